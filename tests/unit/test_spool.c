/* Unit tests of the spool: paths that cannot escape it, commit, and start-up recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osteoscout/spool.h"

static char root[64];

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/os_spool_XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void touch(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void paths_stay_inside(void **state) {
    (void)state;
    char p[OS_PATH_MAX];
    assert_int_equal(os_spool_instance_path("/s", "1.2.3", "../..", "1.2/../../x", p, sizeof p, NULL), 0);
    assert_string_equal(p, "/s/1.2.3/.._../1.2_.._.._x.dcm");
    assert_int_equal(os_spool_instance_path("/s", "..", "1", "2", p, sizeof p, NULL), 0);
    assert_string_equal(p, "/s/_./1/2.dcm");
    assert_int_equal(os_spool_instance_path("/s", "", ".", "9", p, sizeof p, NULL), 0);
    assert_string_equal(p, "/s/_/_/9.dcm");
}

static void commit_moves_and_removes_tmp(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(os_spool_init(root, &err), 0);
    char tmp[OS_PATH_MAX], fin[OS_PATH_MAX];
    assert_int_equal(os_spool_incoming_path(root, tmp, sizeof tmp, &err), 0);
    assert_non_null(strstr(tmp, "/.incoming/"));
    touch(tmp, "DICM");
    assert_int_equal(os_spool_instance_path(root, "1.2", "1.2.3", "1.2.3.4", fin, sizeof fin, &err), 0);
    assert_int_equal(os_spool_commit(tmp, fin, &err), 0);
    assert_false(exists(tmp));
    assert_true(exists(fin));
    struct stat st;
    char dir[OS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/1.2/1.2.3", root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void commit_failure_leaves_nothing(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(os_spool_init(root, &err), 0);
    char tmp[OS_PATH_MAX], fin[OS_PATH_MAX];
    os_spool_incoming_path(root, tmp, sizeof tmp, &err);
    touch(tmp, "x");
    /* a file where the series directory should be makes the rename impossible */
    snprintf(fin, sizeof fin, "%s/blocker", root);
    touch(fin, "");
    snprintf(fin, sizeof fin, "%s/blocker/2/3.dcm", root);
    assert_int_not_equal(os_spool_commit(tmp, fin, &err), 0);
    assert_false(exists(tmp));
    assert_false(exists(fin));
    assert_true(strlen(err.msg) > 0);
}

static int recorded_only_keep(void *ud, const char *path) {
    (void)ud;
    return strstr(path, "keep") != NULL;
}

static void recovery_removes_unacknowledged(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(os_spool_init(root, &err), 0);
    char p[OS_PATH_MAX];
    snprintf(p, sizeof p, "%s/.incoming/half.part", root);
    touch(p, "partial");
    snprintf(p, sizeof p, "%s/st/se", root);
    char cmd[OS_PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    assert_int_equal(system(cmd), 0);
    char keep[OS_PATH_MAX], drop[OS_PATH_MAX];
    snprintf(keep, sizeof keep, "%s/keep.dcm", p);
    snprintf(drop, sizeof drop, "%s/drop.dcm", p);
    touch(keep, "k");
    touch(drop, "d");
    size_t removed = 0;
    assert_int_equal(os_spool_recover(root, recorded_only_keep, NULL, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_true(exists(keep));
    assert_false(exists(drop));
    snprintf(p, sizeof p, "%s/.incoming/half.part", root);
    assert_false(exists(p));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths_stay_inside),
        cmocka_unit_test_setup_teardown(commit_moves_and_removes_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(recovery_removes_unacknowledged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
