/* lib/dicom: helpers shared by the SR and Secondary Capture writers; see sr_common.h. */
#include "sr_common.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "codecs.h"
#include "dcmtk/dcmsr/cmr/init.h"
#include "dcmtk/oflog/oflog.h"

namespace os_report_internal {

int load_ct(const char *path, DcmFileFormat &ff, os_error *err) {
    /* Values over 4 KiB (the pixels) stay on disk: only the header is needed. */
    OFCondition st = ff.loadFile(path, EXS_Unknown, EGL_noChange, 4096);
    if (st.bad()) return os_error_set(err, -EIO, "%s: cannot read the CT: %s", path, st.text());
    DcmDataset *ds = ff.getDataset();
    OFString study;
    if (ds->findAndGetOFString(DCM_StudyInstanceUID, study).bad() || study.empty())
        return os_error_set(err, -EINVAL, "%s: the CT has no Study Instance UID", path);
    return 0;
}

namespace {

struct copy_tag {
    DcmTagKey tag;
    bool type2; /* written empty when the CT lacks it */
};

/* Patient, General Study and Patient Study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2). */
const copy_tag k_patient_study[] = {
    {DCM_PatientName, true},
    {DCM_PatientID, true},
    {DCM_IssuerOfPatientID, false},
    {DCM_IssuerOfPatientIDQualifiersSequence, false},
    {DCM_TypeOfPatientID, false},
    {DCM_PatientBirthDate, true},
    {DCM_PatientBirthTime, false},
    {DCM_PatientSex, true},
    {DCM_OtherPatientIDsSequence, false},
    {DCM_OtherPatientNames, false},
    {DCM_EthnicGroup, false},
    {DCM_PatientComments, false},
    {DCM_PatientSpeciesDescription, false},
    {DCM_PatientSpeciesCodeSequence, false},
    {DCM_PatientBreedDescription, false},
    {DCM_PatientBreedCodeSequence, false},
    {DCM_BreedRegistrationSequence, false},
    {DCM_ResponsiblePerson, false},
    {DCM_ResponsiblePersonRole, false},
    {DCM_ResponsibleOrganization, false},
    {DCM_PatientIdentityRemoved, false},
    {DCM_DeidentificationMethod, false},
    {DCM_DeidentificationMethodCodeSequence, false},
    {DCM_StudyInstanceUID, false},
    {DCM_StudyDate, true},
    {DCM_StudyTime, true},
    {DCM_ReferringPhysicianName, true},
    {DCM_ReferringPhysicianIdentificationSequence, false},
    {DCM_StudyID, true},
    {DCM_AccessionNumber, true},
    {DCM_IssuerOfAccessionNumberSequence, false},
    {DCM_StudyDescription, false},
    {DCM_PhysiciansOfRecord, false},
    {DCM_NameOfPhysiciansReadingStudy, false},
    {DCM_RequestingService, false},
    {DCM_ReferencedStudySequence, false},
    {DCM_ProcedureCodeSequence, false},
    {DCM_AdmittingDiagnosesDescription, false},
    {DCM_PatientAge, false},
    {DCM_PatientSize, false},
    {DCM_PatientWeight, false},
    {DCM_Occupation, false},
    {DCM_AdditionalPatientHistory, false},
    {DCM_PatientSexNeutered, false},
    {DCM_SmokingStatus, false},
    {DCM_PregnancyStatus, false},
};

std::once_flag g_setup_once;

} // namespace

OFCondition copy_patient_study(DcmItem &ct, DcmItem &dst) {
    OFCondition st = EC_Normal;
    if (ct.tagExistsWithValue(DCM_SpecificCharacterSet))
        st = ct.findAndInsertCopyOfElement(DCM_SpecificCharacterSet, &dst, OFTrue);
    else
        dst.findAndDeleteElement(DCM_SpecificCharacterSet);
    for (const copy_tag &c : k_patient_study) {
        if (st.bad()) break;
        if (ct.tagExists(c.tag)) {
            st = ct.findAndInsertCopyOfElement(c.tag, &dst, OFTrue);
        } else if (c.type2) {
            st = dst.putAndInsertString(c.tag, "");
        } else {
            dst.findAndDeleteElement(c.tag);
        }
    }
    return st;
}

std::string ct_string(DcmItem &ct, const DcmTagKey &tag) {
    OFString v;
    if (ct.findAndGetOFStringArray(tag, v).bad()) return "";
    return std::string(v.c_str());
}

std::string format_ds(double v) {
    for (int prec = 10; prec >= 1; prec--) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strlen(buf) <= 16) return buf;
    }
    return "0";
}

void now_da_tm(std::string &da, std::string &tm) {
    time_t t = time(nullptr);
    struct tm lt;
    localtime_r(&t, &lt);
    char d[16], h[16];
    strftime(d, sizeof d, "%Y%m%d", &lt);
    strftime(h, sizeof h, "%H%M%S", &lt);
    da = d;
    tm = h;
}

void setup_dcmtk() {
    os_dicom_internal_quiet_dcmtk();
    std::call_once(g_setup_once, [] {
        static const char *const names[] = {"dcmtk.dcmsr", "dcmtk.dcmsr.cmr"};
        for (const char *n : names) OFLog::getLogger(n).setLogLevel(OFLogger::OFF_LOG_LEVEL);
        /* The context groups are built lazily and not thread-safe: build them all now. */
        CMR_ContentMappingResource::initializeAllContextGroups();
    });
}

int check_common(const os_report_source *src, const char *series_uid, const char *path,
                 const char *what, os_error *err) {
    if (!src || !path || !series_uid)
        return os_error_set(err, -EINVAL, "%s: NULL argument", what);
    if (!src->ct_path || !*src->ct_path)
        return os_error_set(err, -EINVAL, "%s: %s: no CT file to copy the patient and study from", what, path);
    if (!*series_uid || strlen(series_uid) >= OS_UID_MAX)
        return os_error_set(err, -EINVAL, "%s: %s: invalid series UID", what, path);
    if (src->n_instances > 0 && !src->sop_instance_uids)
        return os_error_set(err, -EINVAL, "%s: %s: instance list missing", what, path);
    return 0;
}

} // namespace os_report_internal
