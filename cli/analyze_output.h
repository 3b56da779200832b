/* How `osteoscout analyze` shows its studies: a line per study for people, a CSV row per
 * study for spreadsheets, and a progress bar on a terminal. */
#ifndef OS_CLI_ANALYZE_OUTPUT_H
#define OS_CLI_ANALYZE_OUTPUT_H

#include <stdio.h>
#include <cjson/cJSON.h>

/* item: {"study_uid","series_uid","status","error","series":[...],"result":{...}|null} */
void analyze_print_summary(FILE *f, const cJSON *item);
void analyze_print_csv_header(FILE *f);
void analyze_print_csv_row(FILE *f, const cJSON *item);

/* Redraws one line on stderr; done == total clears it. */
void analyze_progress(int done, int total, const char *what);

#endif
