/* Unit tests of the configuration: defaults, the file, overrides, and errors that name
 * the file, the line and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osteoscout/config.h"

static void expect_error(const char *text, const char *needle);

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/os_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void defaults_match_documentation(void **state) {
    (void)state;
    os_config c;
    os_config_defaults(&c);
    assert_string_equal(c.node_ae_title, "OSTEOSCOUT");
    assert_int_equal(c.node_port, 11112);
    assert_int_equal(c.series_quiet_seconds, 20);
    assert_int_equal(c.series_min_slices, 30);
    assert_int_equal(c.workers_count, 2);
    assert_int_equal(c.node_other_objects, OS_OTHER_DISCARD);
    assert_true(os_config_caller_allowed(&c, "ANYONE", "10.1.2.3"));
    assert_int_equal(c.n_destinations, 0);
    assert_int_equal(c.sender_backoff_first_s, 30);
    assert_int_equal(c.sender_backoff_max_s, 3600);
}

static void shipped_file_loads(void **state) {
    (void)state;
    const char *src = getenv("OS_SOURCE_DIR");
    if (!src) skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/conf/osteoscout.conf", src);
    os_config c, d;
    os_error err = {0};
    assert_int_equal(os_config_load(path, NULL, 0, &c, &err), 0);
    os_config_defaults(&d);
    /* the shipped file documents the defaults, so loading it changes nothing */
    assert_int_equal(c.node_port, d.node_port);
    assert_int_equal(c.node_min_free_mb, d.node_min_free_mb);
    assert_int_equal(c.workers_lease_seconds, d.workers_lease_seconds);
    assert_string_equal(c.node_data_dir, d.node_data_dir);
    assert_string_equal(c.log_level, d.log_level);
    assert_int_equal(c.n_destinations, 0); /* the example destination is commented out */
    assert_int_equal(c.sender_backoff_first_s, d.sender_backoff_first_s);
    assert_int_equal(c.sender_backoff_max_s, d.sender_backoff_max_s);
    assert_int_equal(c.sender_acse_timeout_s, d.sender_acse_timeout_s);
    assert_int_equal(c.sender_dimse_timeout_s, d.sender_dimse_timeout_s);
}

static void destinations(void **state) {
    (void)state;
    char *path = write_tmp("[sender]\nbackoff_first_seconds = 2\n"
                           "[destination pacs]\nae_title = PACS\nhost = 10.0.0.5\nport = 104\n"
                           "[destination archive-2]\nae_title = ARCH\nhost = arch\nport=11112\noutputs = sr\n"
                           "max_age_hours = 24\ntls = yes\ntls_ca_file = /etc/ca.pem\n");
    const char *ov[] = {"destination pacs.port=4104"};
    os_config c;
    os_error err = {0};
    assert_int_equal(os_config_load(path, ov, 1, &c, &err), 0);
    assert_int_equal(c.sender_backoff_first_s, 2);
    assert_int_equal(c.n_destinations, 2);
    const os_destination *p = os_config_destination(&c, "pacs");
    assert_non_null(p);
    assert_string_equal(p->ae_title, "PACS");
    assert_string_equal(p->host, "10.0.0.5");
    assert_int_equal(p->port, 4104);
    assert_int_equal(p->outputs, OS_OUTPUT_SR | OS_OUTPUT_SC);
    assert_int_equal(p->max_age_hours, 72);
    assert_int_equal(p->tls, 0);
    const os_destination *a = os_config_destination(&c, "archive-2");
    assert_non_null(a);
    assert_int_equal(a->outputs, OS_OUTPUT_SR);
    assert_int_equal(a->max_age_hours, 24);
    assert_int_equal(a->tls, 1);
    assert_string_equal(a->tls_ca_file, "/etc/ca.pem");
    assert_null(os_config_destination(&c, "nope"));
    assert_int_equal(os_config_output_bit("sc"), OS_OUTPUT_SC);
    assert_int_equal(os_config_output_bit("pdf"), 0);
    unlink(path);
}

static void destination_errors(void **state) {
    (void)state;
    expect_error("[destination pacs]\nae_title = PACS\nhost = h\nport = 104\ncolour = red\n",
                 ":5: unknown key \"colour\" in section [destination pacs]");
    expect_error("[destination]\nhost = h\n", ":2: [destination]: a destination needs a name");
    expect_error("[destination a.b]\nhost = h\n", "only letters, digits");
    expect_error("[destination pacs]\noutputs = sr, pdf\n", "destination pacs.outputs: \"pdf\" is not an output");
    expect_error("[destination pacs]\nae_title = PACS\nport = 104\n", "[destination pacs]: host is not set");
    expect_error("[destination pacs]\nae_title = PACS\nhost = h\n", "[destination pacs]: port is not set");
    expect_error("[destination pacs]\nhost = h\nport = 1\n", "[destination pacs]: ae_title is not set");
    expect_error("[destination pacs]\nae_title = P\nhost = h\nport = 1\ntls_key_file = /k\ntls = yes\n",
                 "tls_cert_file and tls_key_file go together");
    expect_error("[destination pacs]\nae_title = P\nhost = h\nport = 1\ntls_ca_file = /k\n", "tls = no");
    expect_error("[sender]\nbackoff_first_seconds = 100\nbackoff_max_seconds = 10\n", "below backoff_first_seconds");
    char text[8192] = "";
    for (int i = 0; i <= OS_MAX_DESTINATIONS; i++) {
        char sec[128];
        snprintf(sec, sizeof sec, "[destination d%d]\nae_title = P\nhost = h\nport = 1\n", i);
        strcat(text, sec);
    }
    expect_error(text, "more than 16 destinations");
}

static void values_and_overrides(void **state) {
    (void)state;
    char *path = write_tmp("[node]\nae_title = MYNODE\nport=4242\nallowed_callers = PACS@127.0.0.1, MODALITY\n"
                           "other_objects = reject\n[series]\nquiet_seconds = 5\n[log]\nphi = yes\n");
    const char *ov[] = {"node.port=5000", "workers.count = 4", "node.data_dir=/tmp/x"};
    os_config c;
    os_error err = {0};
    assert_int_equal(os_config_load(path, ov, 3, &c, &err), 0);
    assert_string_equal(c.node_ae_title, "MYNODE");
    assert_int_equal(c.node_port, 5000);
    assert_int_equal(c.workers_count, 4);
    assert_int_equal(c.series_quiet_seconds, 5);
    assert_int_equal(c.log_phi, 1);
    assert_int_equal(c.node_other_objects, OS_OTHER_REJECT);
    assert_int_equal(c.node_n_allowed_callers, 2);
    assert_true(os_config_caller_allowed(&c, "PACS", "127.0.0.1"));
    assert_false(os_config_caller_allowed(&c, "PACS", "10.0.0.9"));
    assert_true(os_config_caller_allowed(&c, "MODALITY", "10.0.0.9"));
    assert_false(os_config_caller_allowed(&c, "STRANGER", "127.0.0.1"));
    char db[4096];
    os_config_db_path(&c, db, sizeof db);
    assert_string_equal(db, "/tmp/x/osteoscout.db");
    unlink(path);
}

static void expect_error(const char *text, const char *needle) {
    char *path = write_tmp(text);
    os_config c;
    os_error err = {0};
    assert_int_not_equal(os_config_load(path, NULL, 0, &c, &err), 0);
    if (!strstr(err.msg, needle)) fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    assert_non_null(strstr(err.msg, path));
    unlink(path);
}

static void errors_name_file_line_and_reason(void **state) {
    (void)state;
    expect_error("[node]\nport = 11112\nbogus = 1\n", ":3: unknown key \"bogus\" in section [node]");
    expect_error("[node]\nport = 99999\n", ":2: node.port: 99999 is outside 1");
    expect_error("[node]\nport = twelve\n", "is not a whole number");
    expect_error("[nodes]\nport = 1\n", "unknown key \"port\" in section [nodes]");
    expect_error("[node]\nae_title = THIS_TITLE_IS_FAR_TOO_LONG\n", "1 to 16 characters");
    expect_error("[node]\nother_objects = keep\n", "neither discard nor reject");
    expect_error("[log]\nlevel = loud\n", "log.level");
    expect_error("[node]\nallowed_callers = ,\n", "empty");
}

static void bad_override_is_an_error(void **state) {
    (void)state;
    const char *ov[] = {"node.port"};
    os_config c;
    os_error err = {0};
    assert_int_not_equal(os_config_load(NULL, ov, 1, &c, &err), 0);
    assert_non_null(strstr(err.msg, "section.key=value"));
    const char *ov2[] = {"series.nope=1"};
    assert_int_not_equal(os_config_load(NULL, ov2, 1, &c, &err), 0);
    assert_non_null(strstr(err.msg, "unknown key"));
}

static void missing_file_is_an_error(void **state) {
    (void)state;
    os_config c;
    os_error err = {0};
    assert_int_not_equal(os_config_load("/nonexistent/osteoscout.conf", NULL, 0, &c, &err), 0);
    assert_non_null(strstr(err.msg, "cannot open"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_documentation), cmocka_unit_test(shipped_file_loads),
        cmocka_unit_test(values_and_overrides),         cmocka_unit_test(errors_name_file_line_and_reason),
        cmocka_unit_test(bad_override_is_an_error),     cmocka_unit_test(missing_file_is_an_error),
        cmocka_unit_test(destinations),                 cmocka_unit_test(destination_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
