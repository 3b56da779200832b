/* lib/dicom internal: the coded concepts of OsteoScout's TID 1500 report (C++ only).
 * Standard codes come from PS3.16 (DCM, SCT, UCUM); concepts with no standard code use the
 * private scheme 99OSTEOSCOUT, which the SR declares in its Coding Scheme Identification
 * Sequence. The deprecated SRT scheme is not used. */
#ifndef OS_DICOM_SR_CODES_H
#define OS_DICOM_SR_CODES_H

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmsr/dsrcodvl.h"

/* The private scheme. Its UID is derived from this seed so every node writes the same one. */
#define OS_SR_SCHEME "99OSTEOSCOUT"
#define OS_SR_SCHEME_NAME "OsteoScout private concepts"
#define OS_SR_SCHEME_ORG "OsteoScout"
#define OS_SR_SCHEME_UID_SEED "osteoscout:coding-scheme:99OSTEOSCOUT:v1"

#define OS_CODE_PRIV(v, m) DSRBasicCodedEntry(v, OS_SR_SCHEME, m)

/* Private concepts. */
#define OS_CODE_HEIGHT_RATIO OS_CODE_PRIV("VB-HRATIO", "Vertebral body height ratio (minimum/maximum)")
#define OS_CODE_GENANT_GRADE OS_CODE_PRIV("VB-GENANT", "Genant semiquantitative fracture grade")
#define OS_CODE_SMI OS_CODE_PRIV("SMI", "Skeletal muscle index")
#define OS_CODE_VFX_PROB OS_CODE_PRIV("VFX-PROB", "Probability of prevalent vertebral fracture")
#define OS_CODE_VFX_RISK_1Y OS_CODE_PRIV("VFX-RISK-1Y", "1 Year vertebral fracture risk")
#define OS_CODE_VFX_RISK_2Y OS_CODE_PRIV("VFX-RISK-2Y", "2 Year vertebral fracture risk")
#define OS_CODE_VFX_RISK_3Y OS_CODE_PRIV("VFX-RISK-3Y", "3 Year vertebral fracture risk")
#define OS_CODE_VFX_RISK_4Y OS_CODE_PRIV("VFX-RISK-4Y", "4 Year vertebral fracture risk")
#define OS_CODE_VFX_RISK_5Y OS_CODE_PRIV("VFX-RISK-5Y", "5 Year vertebral fracture risk")

/* DCM. */
#define OS_CODE_HEIGHT DSRBasicCodedEntry("121207", "DCM", "Height")
#define OS_CODE_ATTENUATION DSRBasicCodedEntry("112031", "DCM", "Attenuation Coefficient")
#define OS_CODE_SOURCE_OF_MEASUREMENT DSRBasicCodedEntry("121112", "DCM", "Source of Measurement")
#define OS_CODE_ALGORITHM_NAME DSRBasicCodedEntry("111001", "DCM", "Algorithm Name")
#define OS_CODE_ALGORITHM_VERSION DSRBasicCodedEntry("111003", "DCM", "Algorithm Version")

/* SCT. */
#define OS_CODE_AREA DSRBasicCodedEntry("42798000", "SCT", "Area")
#define OS_CODE_SKELETAL_MUSCLE DSRBasicCodedEntry("127954009", "SCT", "Skeletal muscle structure")
#define OS_CODE_COMPRESSION_FRACTURE \
    DSRBasicCodedEntry("42942008", "SCT", "Compression fracture of vertebral column")
#define OS_CODE_PRESENT DSRBasicCodedEntry("52101004", "SCT", "Present")
#define OS_CODE_ABSENT DSRBasicCodedEntry("2667000", "SCT", "Absent")
#define OS_CODE_MEAN DSRBasicCodedEntry("373098007", "SCT", "Mean")
#define OS_CODE_TOPOGRAPHICAL_MODIFIER DSRBasicCodedEntry("106233006", "SCT", "Topographical modifier")
#define OS_CODE_ANTERIOR DSRBasicCodedEntry("255549009", "SCT", "Anterior")
#define OS_CODE_MID DSRBasicCodedEntry("255562008", "SCT", "Mid")
#define OS_CODE_POSTERIOR DSRBasicCodedEntry("255551008", "SCT", "Posterior")

/* UCUM units. */
#define OS_UNIT_MM DSRBasicCodedEntry("mm", "UCUM", "mm")
#define OS_UNIT_CM2 DSRBasicCodedEntry("cm2", "UCUM", "cm2")
#define OS_UNIT_HU DSRBasicCodedEntry("[hnsf'U]", "UCUM", "Hounsfield unit")
#define OS_UNIT_CM2_PER_M2 DSRBasicCodedEntry("cm2/m2", "UCUM", "cm2/m2")
#define OS_UNIT_NONE DSRBasicCodedEntry("1", "UCUM", "no units")
#define OS_UNIT_GRADE DSRBasicCodedEntry("{grade}", "UCUM", "grade")

/* The vertebrae the node measures (CID 7603), by label; an empty value for any other label. */
static inline DSRCodedEntryValue os_sr_vertebra_code(const char *label) {
    static const struct {
        const char *label, *code, *meaning;
    } k[] = {
        {"T11", "12989004", "T11 vertebra"}, {"T12", "23215003", "T12 vertebra"},
        {"L1", "66794005", "L1 vertebra"},   {"L2", "14293000", "L2 vertebra"},
        {"L3", "36470004", "L3 vertebra"},   {"L4", "11994002", "L4 vertebra"},
        {"L5", "49668003", "L5 vertebra"},
    };
    for (const auto &e : k)
        if (label && OFString(label) == e.label) return DSRCodedEntryValue(e.code, "SCT", e.meaning);
    return DSRCodedEntryValue();
}

#endif
