/* lib/dicom: UIDs under the 2.25 root (ITU-T X.667: a 128-bit UUID written as one
 * decimal integer). 39 digits at most, so "2.25." + digits always fits in 64 chars. */
#include "uid.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <ctime>

typedef unsigned __int128 u128;

static void format_2_25(u128 v, char out[OS_UID_MAX]) {
    char digits[48];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    size_t k = 0;
    memcpy(out, "2.25.", 5);
    k = 5;
    while (n > 0) out[k++] = digits[--n];
    out[k] = '\0';
}

static u128 from_bytes(const unsigned char b[16]) {
    u128 v = 0;
    for (int i = 0; i < 16; i++) v = (v << 8) | b[i];
    return v;
}

extern "C" void os_dicom_new_uid(char out[OS_UID_MAX]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno != EINTR) {
            break;
        }
    }
    if (got < sizeof b) {
        /* getrandom() only fails on kernels older than 3.17; a time-and-address mix
         * is still unique enough for a node that cannot be that old in practice. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        u128 v = ((u128)(unsigned long long)ts.tv_sec << 64) ^ (u128)(unsigned long long)ts.tv_nsec ^
                 ((u128)(unsigned long long)(uintptr_t)&ts << 32);
        for (int i = 0; i < 16; i++) b[i] ^= (unsigned char)(v >> (8 * i));
    }
    /* Mark it as a version 4 (random) UUID, as X.667 asks. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    format_2_25(from_bytes(b), out);
}

extern "C" void os_dicom_internal_derived_uid(const char *seed, char out[OS_UID_MAX]) {
    /* FNV-1a with the 128-bit parameters: stable across runs and machines, which a
     * derived identifier needs; collisions are as unlikely as for random UIDs. */
    const u128 prime = ((u128)0x0000000001000000ULL << 64) | 0x000000000000013BULL;
    u128 h = ((u128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
    for (const unsigned char *p = (const unsigned char *)(seed ? seed : ""); *p; p++) {
        h ^= *p;
        h *= prime;
    }
    unsigned char b[16];
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)(h >> (8 * (15 - i)));
    /* Version 5 would be a name-based UUID; mark it so it never equals a random one. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x50);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    format_2_25(from_bytes(b), out);
}
