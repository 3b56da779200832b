/* lib/infer: the libtorch shim behind osteoscout/infer.h. Loads TorchScript modules and
 * lists their methods; every libtorch exception stops here and becomes a sentence. */
#include "osteoscout/infer.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

struct os_infer_model {
    torch::jit::script::Module module;
    int threads;
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

/* An exception raised inside TorchScript arrives as "The following operation failed in the
 * TorchScript interpreter", a traceback, and the actual error on the last line: keep that. */
std::string summarise(const char *what) {
    std::string s = what ? what : "";
    if (s.find("TorchScript interpreter") == std::string::npos) return first_line(what);
    size_t end = s.find_last_not_of(" \r\n");
    if (end == std::string::npos) return first_line(what);
    size_t start = s.find_last_of('\n', end);
    size_t from = start == std::string::npos ? 0 : start + 1;
    std::string last = s.substr(from, end + 1 - from);
    return first_line(last.c_str());
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
        os_infer_model *m = new os_infer_model{torch::jit::load(path), threads};
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

extern "C" size_t os_infer_tensor_numel(const os_infer_tensor *t) {
    if (!t || t->ndim < 0) return 0;
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i] > 0 ? (size_t)t->shape[i] : 0;
    return n;
}

extern "C" void os_infer_tensors_free(os_infer_tensor *t, size_t n) {
    if (!t) return;
    for (size_t i = 0; i < n; i++) free(t[i].data);
    free(t);
}

namespace {

/* One output IValue into a float32 copy; throws std::runtime_error with a sentence. */
void take_tensor(const c10::IValue &v, size_t index, os_infer_tensor *out) {
    if (!v.isTensor())
        throw std::runtime_error("output " + std::to_string(index) + " is a " + v.tagKind() + ", not a tensor");
    at::Tensor t = v.toTensor().detach().to(torch::kCPU, torch::kFloat).contiguous();
    if (t.dim() > OS_INFER_MAX_DIMS)
        throw std::runtime_error("output " + std::to_string(index) + " has " + std::to_string(t.dim()) +
                                 " dimensions, more than " + std::to_string(OS_INFER_MAX_DIMS));
    out->ndim = (int)t.dim();
    for (int d = 0; d < out->ndim; d++) out->shape[d] = t.size(d);
    size_t n = (size_t)t.numel();
    out->data = static_cast<float *>(malloc((n ? n : 1) * sizeof(float)));
    if (!out->data) throw std::bad_alloc();
    if (n) memcpy(out->data, t.data_ptr<float>(), n * sizeof(float));
}

} // namespace

extern "C" int os_infer_run(os_infer_model *m, const char *method, const os_infer_tensor *inputs, size_t n_inputs,
                            os_infer_tensor **outputs, size_t *n_outputs, os_error *err) {
    *outputs = NULL;
    *n_outputs = 0;
    const char *name = method && *method ? method : "forward";
    if (!m) return os_error_set(err, -EINVAL, "cannot run %s: no model", name);
    for (size_t i = 0; i < n_inputs; i++) {
        const os_infer_tensor *t = &inputs[i];
        if (!t->data || t->ndim < 0 || t->ndim > OS_INFER_MAX_DIMS)
            return os_error_set(err, -EINVAL, "cannot run %s: input %zu has no data or %d dimensions", name, i,
                                t->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return os_error_set(err, -EINVAL, "cannot run %s: input %zu has a negative size", name, i);
    }
    os_infer_tensor *outs = NULL;
    size_t count = 0;
    try {
        auto found = m->module.find_method(name);
        if (!found) return os_error_set(err, -ENOENT, "cannot run %s: the model has no such method", name);
        // libtorch (OpenMP) keeps the intra-op thread count per calling thread.
        if (m->threads > 0 && at::get_num_threads() != m->threads) at::set_num_threads(m->threads);
        c10::InferenceMode guard;
        std::vector<c10::IValue> args;
        args.reserve(n_inputs);
        for (size_t i = 0; i < n_inputs; i++) {
            std::vector<int64_t> shape(inputs[i].shape, inputs[i].shape + inputs[i].ndim);
            // A copy: a module may work in place on its arguments; the caller's buffer stays intact.
            args.emplace_back(torch::from_blob(inputs[i].data, shape, torch::kFloat).clone());
        }
        c10::IValue result = (*found)(std::move(args));
        std::vector<c10::IValue> items;
        if (result.isTuple()) {
            for (const auto &e : result.toTupleRef().elements()) items.push_back(e);
        } else if (result.isList()) {
            for (const auto &e : result.toListRef()) items.push_back(e);
        } else {
            items.push_back(result);
        }
        outs = static_cast<os_infer_tensor *>(calloc(items.size() ? items.size() : 1, sizeof *outs));
        if (!outs) throw std::bad_alloc();
        for (size_t i = 0; i < items.size(); i++) {
            take_tensor(items[i], i, &outs[i]);
            count++;
        }
        *outputs = outs;
        *n_outputs = count;
        return 0;
    } catch (const c10::Error &e) {
        os_infer_tensors_free(outs, count);
        return os_error_set(err, -EINVAL, "cannot run %s: %s", name, summarise(e.what_without_backtrace()).c_str());
    } catch (const std::bad_alloc &) {
        os_infer_tensors_free(outs, count);
        return os_error_set(err, -ENOMEM, "cannot run %s: out of memory", name);
    } catch (const std::exception &e) {
        os_infer_tensors_free(outs, count);
        return os_error_set(err, -EINVAL, "cannot run %s: %s", name, summarise(e.what()).c_str());
    } catch (...) {
        os_infer_tensors_free(outs, count);
        return os_error_set(err, -EINVAL, "cannot run %s: unknown error", name);
    }
}

extern "C" const char *os_infer_backend_version(void) {
    return TORCH_VERSION;
}
