/* Loading one plugin file: resolve the name, dlopen, find the one exported symbol, and check
 * the ABI before calling anything else in it. Every refusal names the file and the reason,
 * since the operator reads it in the journal when the daemon refuses to start. */
#include "osteoscout/models.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct os_plugin {
    void *handle;
    const os_plugin_info *info;
    char path[4096];
};

void os_plugin_resolve(const char *plugin, const char *plugin_dir, char *out, size_t outlen) {
    if (strchr(plugin, '/')) snprintf(out, outlen, "%s", plugin);
    else snprintf(out, outlen, "%s/%s.so", plugin_dir && *plugin_dir ? plugin_dir : ".", plugin);
}

/* dlerror()'s text repeats the path; keep what follows it. */
static const char *dl_reason(const char *path) {
    const char *e = dlerror();
    if (!e) return "unknown dynamic-loader error";
    size_t n = strlen(path);
    if (!strncmp(e, path, n) && e[n] == ':') e += n + 1;
    while (*e == ' ') e++;
    return e;
}

int os_plugin_load(const char *plugin, const char *plugin_dir, os_plugin **out, os_error *err) {
    *out = NULL;
    if (!plugin || !*plugin) return os_error_set(err, -EINVAL, "no plugin named");
    os_plugin *p = calloc(1, sizeof *p);
    if (!p) return os_error_set(err, -ENOMEM, "out of memory loading plugin %s", plugin);
    os_plugin_resolve(plugin, plugin_dir, p->path, sizeof p->path);

    struct stat st;
    if (stat(p->path, &st) != 0) {
        int e = errno;
        if (!strchr(plugin, '/'))
            os_error_set(err, -e, "plugin %s: %s: %s (plugins given by name are looked for in node.plugin_dir = %s)",
                         plugin, p->path, strerror(e), plugin_dir && *plugin_dir ? plugin_dir : ".");
        else
            os_error_set(err, -e, "plugin %s: %s", p->path, strerror(e));
        free(p);
        return -e;
    }
    /* RTLD_NODELETE: see os_plugin_unload. RTLD_LOCAL: two plugins may carry their own copies
     * of the same helpers without one's symbols answering for the other's. */
    dlerror();
    p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!p->handle) {
        os_error_set(err, -ENOEXEC, "plugin %s: cannot load it: %s", p->path, dl_reason(p->path));
        free(p);
        return -ENOEXEC;
    }
    dlerror();
    void *sym = dlsym(p->handle, OS_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        os_error_set(err, -ENOEXEC, "plugin %s exports no %s(): not an OsteoScout plugin", p->path,
                     OS_PLUGIN_ENTRY_SYMBOL);
        os_plugin_unload(p);
        return -ENOEXEC;
    }
    os_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* ISO C has no object → function pointer cast */
    const os_plugin_info *info = entry();
    const char *why = NULL;
    char buf[300];
    if (!info) {
        why = "its entry point returned no description";
    } else if (info->abi_version != OS_PLUGIN_ABI_VERSION) {
        snprintf(buf, sizeof buf, "it was built for plugin ABI version %u, this OsteoScout speaks version %u: "
                 "rebuild it against this version's osteoscout/plugin.h", info->abi_version, OS_PLUGIN_ABI_VERSION);
        why = buf;
    } else if (info->sizeof_info != sizeof(os_plugin_info) || info->sizeof_study != sizeof(os_plugin_study) ||
               info->sizeof_result != sizeof(os_plugin_result) ||
               info->sizeof_volume_anatomy != sizeof(os_volume) + sizeof(os_anatomy)) {
        snprintf(buf, sizeof buf, "it claims ABI version %u but was compiled with other structure sizes "
                 "(headers changed without a version bump): rebuild it", info->abi_version);
        why = buf;
    } else if (!info->name || !*info->name || !info->open || !info->analyze || !info->close) {
        why = "its description lacks a name or one of open, analyze, close";
    }
    if (why) {
        os_error_set(err, -ENOEXEC, "plugin %s refused: %s", p->path, why);
        os_plugin_unload(p);
        return -ENOEXEC;
    }
    p->info = info;
    *out = p;
    return 0;
}

const os_plugin_info *os_plugin_get_info(const os_plugin *p) {
    return p ? p->info : NULL;
}

const char *os_plugin_path(const os_plugin *p) {
    return p ? p->path : "";
}

void os_plugin_unload(os_plugin *p) {
    if (!p) return;
    if (p->handle) dlclose(p->handle);
    free(p);
}
