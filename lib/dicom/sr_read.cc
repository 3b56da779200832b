/* lib/dicom: reading a TID 1500 SR back — what `osteoscout selftest` uses to check the report a
 * PACS would hold against the phantom's truth. It walks the content tree as stored (Content
 * Sequence items, their value types and codes) rather than through dcmsr's document model,
 * so a report that dcmsr would judge incomplete can still be read and compared; whether the
 * template is valid is dciodvfy's business. Only NUMs inside measurement groups
 * (125007, DCM) are collected, each with its group's tracking identifier and finding site. */
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include "codecs.h"
#include "osteoscout/dicom_report.h"

namespace {

const DcmTagKey TAG_VALUE_TYPE(0x0040, 0xA040);
const DcmTagKey TAG_CONCEPT_NAME(0x0040, 0xA043);
const DcmTagKey TAG_CONCEPT_CODE(0x0040, 0xA168);
const DcmTagKey TAG_CONTENT_SEQ(0x0040, 0xA730);
const DcmTagKey TAG_MEASURED_VALUE_SEQ(0x0040, 0xA300);
const DcmTagKey TAG_NUMERIC_VALUE(0x0040, 0xA30A);
const DcmTagKey TAG_UNITS_SEQ(0x0040, 0x08EA);
const DcmTagKey TAG_TEXT_VALUE(0x0040, 0xA160);

void copy(char *dst, size_t cap, const std::string &s) {
    size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
    memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

std::string str(DcmItem *it, const DcmTagKey &tag) {
    OFString v;
    if (!it || it->findAndGetOFStringArray(tag, v).bad()) return "";
    return std::string(v.c_str());
}

struct code {
    std::string value, scheme, meaning;
};

code get_code(DcmItem *it, const DcmTagKey &seq) {
    code c;
    DcmItem *ci = nullptr;
    if (it && it->findAndGetSequenceItem(seq, ci, 0).good() && ci) {
        c.value = str(ci, DCM_CodeValue);
        c.scheme = str(ci, DCM_CodingSchemeDesignator);
        c.meaning = str(ci, DCM_CodeMeaning);
    }
    return c;
}

struct group_ctx {
    std::string tracking_id, finding_site;
};

class walker {
  public:
    std::vector<os_sr_num> nums;

    /* Items of one Content Sequence; `group` is the measurement group they are in, if any. */
    void walk(DcmItem *parent, group_ctx *group) {
        DcmSequenceOfItems *seq = nullptr;
        if (parent->findAndGetSequence(TAG_CONTENT_SEQ, seq).bad() || !seq) return;
        /* The group's identifiers come before its measurements, but read them all first so
         * that the order of the items does not matter. */
        if (group)
            for (unsigned long i = 0; i < seq->card(); i++) {
                DcmItem *it = seq->getItem(i);
                std::string vt = str(it, TAG_VALUE_TYPE);
                code name = get_code(it, TAG_CONCEPT_NAME);
                if (vt == "TEXT" && name.value == "112039" && name.scheme == "DCM")
                    group->tracking_id = str(it, TAG_TEXT_VALUE);
                else if (vt == "CODE" && name.value == "363698007" && name.scheme == "SCT")
                    group->finding_site = get_code(it, TAG_CONCEPT_CODE).value;
            }
        for (unsigned long i = 0; i < seq->card(); i++) {
            DcmItem *it = seq->getItem(i);
            std::string vt = str(it, TAG_VALUE_TYPE);
            code name = get_code(it, TAG_CONCEPT_NAME);
            if (vt == "CONTAINER" && name.value == "125007" && name.scheme == "DCM") {
                group_ctx g;
                walk(it, &g);
            } else if (vt == "NUM" && group) {
                add_num(it, name, *group);
            } else if (vt == "CONTAINER") {
                walk(it, group);
            }
        }
    }

  private:
    void add_num(DcmItem *it, const code &name, const group_ctx &g) {
        DcmItem *mv = nullptr;
        if (it->findAndGetSequenceItem(TAG_MEASURED_VALUE_SEQ, mv, 0).bad() || !mv) return;
        std::string text = str(mv, TAG_NUMERIC_VALUE);
        char *end = nullptr;
        double v = strtod(text.c_str(), &end);
        if (text.empty() || !end || *end != '\0' || !std::isfinite(v)) return;
        os_sr_num n;
        memset(&n, 0, sizeof n);
        copy(n.group, sizeof n.group, g.tracking_id);
        copy(n.finding_site, sizeof n.finding_site, g.finding_site);
        copy(n.concept, sizeof n.concept, name.value);
        copy(n.scheme, sizeof n.scheme, name.scheme);
        copy(n.meaning, sizeof n.meaning, name.meaning);
        copy(n.unit, sizeof n.unit, get_code(mv, TAG_UNITS_SEQ).value);
        n.value = v;
        /* Children of the NUM: a topographical modifier, an equivalent meaning. */
        DcmSequenceOfItems *kids = nullptr;
        if (it->findAndGetSequence(TAG_CONTENT_SEQ, kids).good() && kids)
            for (unsigned long k = 0; k < kids->card(); k++) {
                DcmItem *c = kids->getItem(k);
                std::string vt = str(c, TAG_VALUE_TYPE);
                code cn = get_code(c, TAG_CONCEPT_NAME);
                if (vt == "CODE" && cn.value == "106233006")
                    copy(n.modifier, sizeof n.modifier, get_code(c, TAG_CONCEPT_CODE).value);
                else if (vt == "TEXT" && cn.value == "121050")
                    copy(n.meaning, sizeof n.meaning, str(c, TAG_TEXT_VALUE));
            }
        nums.push_back(n);
    }
};

int read_sr(const char *path, os_sr_content *out, os_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return os_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    os_dicom_internal_quiet_dcmtk();
    DcmFileFormat ff;
    OFCondition st = ff.loadFile(path);
    if (st.bad()) return os_error_set(err, -EIO, "%s: not a readable DICOM file: %s", path, st.text());
    DcmDataset *ds = ff.getDataset();
    copy(out->sop_class_uid, sizeof out->sop_class_uid, str(ds, DCM_SOPClassUID));
    copy(out->sop_instance_uid, sizeof out->sop_instance_uid, str(ds, DCM_SOPInstanceUID));
    copy(out->study_uid, sizeof out->study_uid, str(ds, DCM_StudyInstanceUID));
    copy(out->series_uid, sizeof out->series_uid, str(ds, DCM_SeriesInstanceUID));
    out->series_number = atoi(str(ds, DCM_SeriesNumber).c_str());
    if (str(ds, TAG_VALUE_TYPE) != "CONTAINER")
        return os_error_set(err, -EINVAL, "%s: not a structured report (no root CONTAINER)", path);
    code root = get_code(ds, TAG_CONCEPT_NAME);
    copy(out->root_concept, sizeof out->root_concept, root.value);
    copy(out->root_scheme, sizeof out->root_scheme, root.scheme);
    walker w;
    w.walk(ds, nullptr);
    if (!w.nums.empty()) {
        out->nums = static_cast<os_sr_num *>(malloc(w.nums.size() * sizeof *out->nums));
        if (!out->nums) return os_error_set(err, -ENOMEM, "out of memory reading %s", path);
        memcpy(out->nums, w.nums.data(), w.nums.size() * sizeof *out->nums);
        out->n_nums = w.nums.size();
    }
    return 0;
}

} // namespace

extern "C" int os_dicom_read_sr(const char *path, os_sr_content *out, os_error *err) {
    if (!path || !out) return os_error_set(err, -EINVAL, "os_dicom_read_sr needs a path and an output");
    memset(out, 0, sizeof *out);
    try {
        int rc = read_sr(path, out, err);
        if (rc != 0) os_sr_content_free(out);
        return rc;
    } catch (const std::exception &e) {
        os_sr_content_free(out);
        return os_error_set(err, -ENOMEM, "%s: %s", path, e.what());
    }
}

extern "C" void os_sr_content_free(os_sr_content *c) {
    if (!c) return;
    free(c->nums);
    c->nums = nullptr;
    c->n_nums = 0;
}

extern "C" const os_sr_num *os_sr_find(const os_sr_content *c, const char *where, const char *concept,
                                       const char *modifier) {
    for (size_t i = 0; c && i < c->n_nums; i++) {
        const os_sr_num *n = &c->nums[i];
        if (strcmp(n->finding_site, where) != 0 && strcmp(n->group, where) != 0) continue;
        if (strcmp(n->concept, concept) != 0) continue;
        if (modifier && strcmp(n->modifier, modifier) != 0) continue;
        return n;
    }
    return nullptr;
}
