/* lib/infer: the libtorch shim behind osteoscout/infer.h. Loads TorchScript modules and
 * lists their methods; every libtorch exception stops here and becomes a sentence. */
#include "osteoscout/infer.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

struct os_infer_model {
    torch::jit::script::Module module;
};

namespace {

/* libtorch's what() carries a C++ backtrace after the first line; an operator needs only
 * the first line. */
std::string first_line(const char *what) {
    std::string s = what ? what : "";
    size_t nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '.')) s.pop_back();
    return s.empty() ? std::string("unknown error") : s;
}

char *dup(const std::string &s) {
    char *p = static_cast<char *>(malloc(s.size() + 1));
    if (p) memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

} // namespace

extern "C" int os_infer_load(const char *path, int threads, os_infer_model **out, os_error *err) {
    *out = NULL;
    if (!path || !*path) return os_error_set(err, -EINVAL, "cannot load TorchScript model: no path given");
    // libtorch's own message for a missing file is an unreadable errno dump; say it plainly.
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return os_error_set(err, -errno, "cannot load TorchScript model %s: %s", path, strerror(errno));
    fclose(probe);
    try {
        // The thread count is process-wide in libtorch; the last model loaded sets it.
        if (threads > 0) at::set_num_threads(threads);
        os_infer_model *m = new os_infer_model{torch::jit::load(path)};
        m->module.eval();
        *out = m;
        return 0;
    } catch (const c10::Error &e) {
        return os_error_set(err, -EINVAL, "cannot load TorchScript model %s: %s", path,
                            first_line(e.what_without_backtrace()).c_str());
    } catch (const std::bad_alloc &) {
        return os_error_set(err, -ENOMEM, "cannot load TorchScript model %s: out of memory", path);
    } catch (const std::exception &e) {
        return os_error_set(err, -EINVAL, "cannot load TorchScript model %s: %s", path,
                            first_line(e.what()).c_str());
    } catch (...) {
        return os_error_set(err, -EINVAL, "cannot load TorchScript model %s: unknown error", path);
    }
}

extern "C" void os_infer_free(os_infer_model *m) {
    try {
        delete m;
    } catch (...) {
    }
}

extern "C" int os_infer_methods(os_infer_model *m, char ***names, size_t *n, os_error *err) {
    *names = NULL;
    *n = 0;
    if (!m) return os_error_set(err, -EINVAL, "cannot list model methods: no model");
    char **list = NULL;
    size_t count = 0;
    try {
        auto methods = m->module.get_methods();
        list = static_cast<char **>(calloc(methods.size() + 1, sizeof *list));
        if (!list) return os_error_set(err, -ENOMEM, "cannot list model methods: out of memory");
        for (const auto &method : methods) {
            list[count] = dup(method.name());
            if (!list[count]) {
                os_infer_free_names(list, count);
                return os_error_set(err, -ENOMEM, "cannot list model methods: out of memory");
            }
            count++;
        }
        *names = list;
        *n = count;
        return 0;
    } catch (const std::exception &e) {
        os_infer_free_names(list, count);
        return os_error_set(err, -EIO, "cannot list model methods: %s", first_line(e.what()).c_str());
    } catch (...) {
        os_infer_free_names(list, count);
        return os_error_set(err, -EIO, "cannot list model methods: unknown error");
    }
}

extern "C" void os_infer_free_names(char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

extern "C" const char *os_infer_backend_version(void) {
    return TORCH_VERSION;
}
