/* Shared by the phantom tests (test_spine, test_muscle): removing the flat folder a phantom
 * series was written to. Static: each test includes what it uses. */
#ifndef OS_TEST_TMPDIR_H
#define OS_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1200];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

#endif
