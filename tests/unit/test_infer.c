/* Unit tests for lib/infer: a real TorchScript file, written at test time by Debian's
 * python3-torch, loads and lists its methods; a missing file and a garbage file fail
 * with a sentence, not an exception. Skips when no python3 with torch is found. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osteoscout/infer.h"

static char tmpdir[256];
static char model_path[300];
static const char *python; /* a python3 that can import torch, or NULL */

/* pyenv or a venv may shadow Debian's interpreter, which is the one with python3-torch. */
static const char *find_python(void) {
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", candidates[i]);
        if (system(cmd) == 0) return candidates[i];
    }
    return NULL;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_infer_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    python = find_python();
    if (!python) return 0;
    snprintf(model_path, sizeof model_path, "%s/tiny.pt", tmpdir);
    char script[700], cmd[1200];
    snprintf(script, sizeof script, "%s/make.py", tmpdir);
    FILE *f = fopen(script, "w");
    if (!f) return -1;
    fputs("import sys, torch\n"
          "class Tiny(torch.nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.lin = torch.nn.Linear(4, 2)\n"
          "    def forward(self, x):\n"
          "        return self.lin(x)\n"
          "    @torch.jit.export\n"
          "    def risk_at(self, x, years: int):\n"
          "        return torch.sigmoid(self.lin(x)) * years\n"
          "torch.jit.script(Tiny()).save(sys.argv[1])\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, script, model_path);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_load_and_list_methods(void **state) {
    (void)state;
    if (!python) {
        print_message("skipped: no python3 with torch (apt-get install python3-torch)\n");
        skip();
    }
    os_infer_model *m = NULL;
    os_error err = {0};
    int rc = os_infer_load(model_path, 1, &m, &err);
    if (rc != 0) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(m);

    char **names = NULL;
    size_t n = 0;
    assert_int_equal(os_infer_methods(m, &names, &n, &err), 0);
    int forward = 0, extra = 0;
    for (size_t i = 0; i < n; i++) {
        forward |= strcmp(names[i], "forward") == 0;
        extra |= strcmp(names[i], "risk_at") == 0;
    }
    assert_true(forward);
    assert_true(extra);
    os_infer_free_names(names, n);
    os_infer_free(m);
}

static void test_missing_file(void **state) {
    (void)state;
    os_infer_model *m = (os_infer_model *)1;
    os_error err = {0};
    assert_int_not_equal(os_infer_load("/nonexistent/model.pt", 0, &m, &err), 0);
    assert_null(m);
    const char *want = "cannot load TorchScript model /nonexistent/model.pt: ";
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);
    assert_null(strchr(err.msg, '\n'));
    assert_true(strlen(err.msg) > strlen(want));
    print_message("%s\n", err.msg);
}

static void test_garbage_file(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/garbage.pt", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a zip archive, let alone TorchScript\n", f);
    fclose(f);
    os_infer_model *m = NULL;
    os_error err = {0};
    assert_int_not_equal(os_infer_load(path, 0, &m, &err), 0);
    assert_null(m);
    char want[400];
    snprintf(want, sizeof want, "cannot load TorchScript model %s: ", path);
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);
    assert_null(strchr(err.msg, '\n'));
    print_message("%s\n", err.msg);
}

static void test_backend_version(void **state) {
    (void)state;
    const char *v = os_infer_backend_version();
    assert_non_null(v);
    assert_true(strncmp(v, "1.", 2) == 0 || strncmp(v, "2.", 2) == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_list_methods),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_garbage_file),
        cmocka_unit_test(test_backend_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
