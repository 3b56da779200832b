/* Unit tests for lib/infer: a real TorchScript file, written at test time by Debian's
 * python3-torch, loads and lists its methods; a missing file and a garbage file fail
 * with a sentence, not an exception. The tiny model of docs/model-inputs.md's interface
 * (model_fixture.h) runs through os_infer_run: outputs come back as C arrays with their
 * shapes, and wrong inputs, a missing method or an exception raised inside the module come
 * back as one-line sentences. Skips when no python3 with torch is found. */
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
#include "model_fixture.h"

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
    if (system(cmd) != 0) return -1;
    return fixture_write_tiny_model(python, tmpdir);
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

#define LEVEL_VOXELS (12 * 160 * 160)

/* Inputs of the interface for a batch of b studies: bone and muscle filled with v, all levels
 * present but the last. */
static void make_inputs(int b, float v, os_infer_tensor args[3], float **bone, float **muscle, float **present) {
    size_t n = (size_t)b * 5 * LEVEL_VOXELS;
    *bone = malloc(n * sizeof **bone);
    *muscle = malloc(n * sizeof **muscle);
    *present = malloc((size_t)b * 5 * sizeof **present);
    assert_non_null(*bone);
    assert_non_null(*muscle);
    assert_non_null(*present);
    for (size_t i = 0; i < n; i++) {
        (*bone)[i] = v;
        (*muscle)[i] = v / 2;
    }
    for (int i = 0; i < b * 5; i++) (*present)[i] = i % 5 == 4 ? 0.0f : 1.0f;
    args[0] = (os_infer_tensor){*bone, 5, {b, 5, 12, 160, 160}};
    args[1] = (os_infer_tensor){*muscle, 5, {b, 5, 12, 160, 160}};
    args[2] = (os_infer_tensor){*present, 2, {b, 5}};
}

static void test_run_interface(void **state) {
    (void)state;
    if (!python) skip();
    char path[400];
    snprintf(path, sizeof path, "%s/tiny_mt.pt", tmpdir);
    os_infer_model *m = NULL;
    os_error err = {0};
    assert_int_equal(os_infer_load(path, 1, &m, &err), 0);
    for (int b = 1; b <= 2; b++) {
        os_infer_tensor args[3];
        float *bone, *muscle, *present;
        make_inputs(b, 0.3f, args, &bone, &muscle, &present);
        os_infer_tensor *out = NULL;
        size_t n = 0;
        int rc = os_infer_run(m, NULL, args, 3, &out, &n, &err);
        if (rc) print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(n, 2);
        assert_int_equal(out[0].ndim, 1);
        assert_int_equal(out[0].shape[0], b);
        assert_int_equal(out[1].ndim, 2);
        assert_int_equal(out[1].shape[0], b);
        assert_int_equal(out[1].shape[1], 5);
        assert_int_equal(os_infer_tensor_numel(&out[1]), (size_t)b * 5);
        for (int i = 0; i < b; i++) {
            assert_true(out[0].data[i] > 0 && out[0].data[i] < 1);
            for (int k = 0; k < 5; k++) {
                float r = out[1].data[i * 5 + k];
                assert_true(r > 0 && r < 1);
                if (k) assert_true(r >= out[1].data[i * 5 + k - 1]); /* cumulative: monotone */
            }
            if (i) assert_true(out[0].data[i] == out[0].data[0]); /* same inputs, same answer */
        }
        print_message("batch %d: p = %.4f, cumulative %.4f … %.4f\n", b, out[0].data[0], out[1].data[0],
                      out[1].data[4]);
        /* the caller's buffers are only read */
        assert_true(bone[0] == 0.3f && present[4] == 0.0f);
        os_infer_tensors_free(out, n);
        free(bone);
        free(muscle);
        free(present);
    }
    os_infer_free(m);
}

static void test_run_errors(void **state) {
    (void)state;
    if (!python) skip();
    char path[400];
    snprintf(path, sizeof path, "%s/tiny_mt.pt", tmpdir);
    os_infer_model *m = NULL;
    os_error err = {0};
    assert_int_equal(os_infer_load(path, 1, &m, &err), 0);
    os_infer_tensor args[3];
    float *bone, *muscle, *present;
    make_inputs(1, 0.1f, args, &bone, &muscle, &present);
    os_infer_tensor *out = (os_infer_tensor *)1;
    size_t n = 7;

    /* an exception raised by the module: its own message, on one line */
    args[0].shape[3] = 80;
    args[0].shape[4] = 320;
    assert_true(os_infer_run(m, "forward", args, 3, &out, &n, &err) < 0);
    assert_null(out);
    assert_int_equal(n, 0);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "cannot run forward: "));
    assert_non_null(strstr(err.msg, "bone must be [B,5,12,160,160]"));
    assert_null(strchr(err.msg, '\n'));
    args[0].shape[3] = args[0].shape[4] = 160;

    /* too few arguments: libtorch's schema check */
    assert_true(os_infer_run(m, "forward", args, 2, &out, &n, &err) < 0);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "cannot run forward: "));
    assert_null(strchr(err.msg, '\n'));

    /* present of the wrong shape */
    args[2].shape[1] = 4;
    args[2].shape[0] = 1;
    float small[4] = {1, 1, 1, 1};
    args[2].data = small;
    assert_true(os_infer_run(m, "forward", args, 3, &out, &n, &err) < 0);
    print_message("%s\n", err.msg);
    assert_null(strchr(err.msg, '\n'));

    assert_true(os_infer_run(m, "no_such_method", args, 3, &out, &n, &err) < 0);
    assert_non_null(strstr(err.msg, "no such method"));
    args[0].data = NULL;
    assert_true(os_infer_run(m, "forward", args, 3, &out, &n, &err) < 0);
    assert_true(os_infer_run(NULL, "forward", args, 3, &out, &n, &err) < 0);
    os_infer_tensors_free(NULL, 0);
    free(bone);
    free(muscle);
    free(present);
    os_infer_free(m);
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
        cmocka_unit_test(test_run_interface),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_backend_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
