//! The 3PAR error space: one code table and the typed error every fallible model operation returns.
//!
//! Real arrays report failures as a numeric code, a symbol and a short description, and the HTTP
//! front sends exactly those.
//! The model therefore carries the code itself ([`ErrorCode`]) plus a sentence of context
//! ([`Error::message`]); callers branch on the code, people read the message.
//!
//! Design choice: one flat table instead of one enum per operation family, because 3PAR's own
//! code space is flat and shared by every operation (a missing volume is code 23 whether it was
//! missing for a snapshot, an export or a copy).
//! The cost: the type does not say which codes one operation can return; each operation's doc
//! lists them instead.
//!
//! Codes whose number the WSAPI spec verified keep that number; symbols used without a verified
//! number get placeholders from 900 up (spec §15.1), never reusing a verified number.

use std::fmt;

/// A failed model operation: the 3PAR code and a sentence of context.
///
/// Invariant: an operation that returns `Err` changed nothing in the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {}", code.symbol(), code.number(), message)]
pub struct Error {
    /// The 3PAR error code (symbol, number and HTTP status).
    pub code: ErrorCode,
    /// What went wrong, for a person: names the object and the rule.
    pub message: String,
}

impl Error {
    /// An error with `code` and a sentence of context.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }

    /// The description real arrays send in the `desc` member for this code.
    pub fn desc(&self) -> &'static str {
        self.code.desc()
    }
}

/// Result of a model operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $number:literal, $status:literal, $desc:literal; )*) => {
        /// Every 3PAR error the model can return, with its WSAPI number, HTTP status and `desc`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        #[allow(non_camel_case_types)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// All codes, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The numeric code sent in the WSAPI `code` member.
            pub fn number(self) -> u32 {
                match self { $(ErrorCode::$variant => $number,)* }
            }

            /// The HTTP status the WSAPI answers with for this code.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The 3PAR symbol, e.g. `NON_EXISTENT_VOL`.
            pub fn symbol(self) -> &'static str {
                match self { $(ErrorCode::$variant => stringify!($variant),)* }
            }

            /// The `desc` text real arrays send (the verbatim ones of spec §15.2 included).
            pub fn desc(self) -> &'static str {
                match self { $(ErrorCode::$variant => $desc,)* }
            }
        }
    };
}

error_codes! {
    // Verified numbers (WSAPI spec §15.1).
    INT_SERV_ERR = 1, 500, "internal server error";
    INV_SSL = 2, 400, "invalid SSL";
    INPUT_EOF = 3, 400, "unexpected end of input";
    INPUT_TOO_LONG = 4, 413, "input too long";
    INV_USER_PASS = 5, 403, "invalid user or password";
    INV_SESS_KEY = 6, 403, "invalid session key";
    TIMEOUT = 7, 408, "request timed out";
    UNSUP_HTTP = 8, 505, "unsupported HTTP version";
    UNSUP_OP = 9, 501, "operation not supported on this resource";
    URI_RES_NOT_FOUND = 11, 404, "resource not found";
    INV_INPUT = 12, 400, "invalid input";
    PERM_DENIED = 13, 403, "permission denied";
    EXISTENT_CPG = 14, 409, "CPG exists";
    NON_EXISTENT_CPG = 15, 404, "CPG does not exist";
    EXISTENT_HOST = 16, 409, "host exists";
    NON_EXISTENT_HOST = 17, 404, "host does not exist";
    EXISTENT_LUN = 18, 409, "LUN exists";
    NON_EXISTENT_VLUN = 19, 404, "VLUN does not exist";
    NON_EXISTENT_PORT = 20, 404, "port does not exist";
    BAD_PORT_TYPE = 21, 400, "bad port type";
    EXISTENT_VOL = 22, 409, "volume exists";
    NON_EXISTENT_VOL = 23, 404, "volume does not exist";
    NO_SPACE = 24, 400, "not enough space";
    HAS_RO_CHILD = 25, 409, "volume has a read-only child";
    EXPORTED_VLUN = 26, 409, "has exported VLUN";
    TOO_LARGE = 28, 400, "invalid input: number too large";
    HAS_CHILD = 32, 409, "volume has a child";
    IN_USE = 34, 409, "object is in use";
    NON_EXISTENT_DOMAIN = 38, 404, "domain does not exist";
    INV_INPUT_WRONG_TYPE = 39, 400, "invalid input: wrong type";
    INV_INPUT_MISSING_REQUIRED = 40, 400, "invalid input: missing required parameter";
    INV_INPUT_EXCEEDS_RANGE = 43, 400, "invalid input: number exceeds expected range";
    INV_INPUT_PARAM_CONFLICT = 44, 400, "invalid input: parameters cannot be present at the same time";
    INV_INPUT_EMPTY_STR = 45, 400, "invalid input: empty string";
    INV_INPUT_BAD_ENUM_VALUE = 46, 400, "invalid input: bad enum value";
    INV_INPUT_PORT_SPECIFICATION = 55, 400, "invalid input: bad port specification";
    INV_INPUT_EXCEEDS_LENGTH = 57, 400, "invalid input: string length exceeds limit";
    EXISTENT_ID = 59, 409, "id exists";
    INV_INPUT_JSON_SYNTAX = 60, 400, "invalid input: JSON syntax error";
    INV_INPUT_ILLEGAL_CHAR = 69, 400, "illegal character in input";
    EXISTENT_PATH = 73, 409, "path already in use by another host";
    HOST_IN_SET = 77, 409, "host is a member of a set";
    INV_INPUT_ONE_REQUIRED = 78, 400, "invalid input: one of the parameters is required";
    NON_EXISTENT_PATH = 80, 404, "path does not exist";
    INV_OPERATION_VV_ZERO_DETECT_TPVV = 91, 403, "zero detect is only allowed on thin volumes";
    INV_OPERATION_GROW_SIZE_TOO_SMALL = 94, 400, "grow size too small";
    INV_OPERATION_VLUN_PCOPY_TARGET_VV = 97, 409, "volume is the target of a physical copy";
    INV_INPUT_DUP_PATH = 98, 400, "invalid input: duplicate path";
    NON_EXISTENT_QOS_RULE = 100, 404, "QoS rule does not exist";
    EXISTENT_SET = 101, 409, "set exists";
    NON_EXISTENT_SET = 102, 404, "set does not exist";
    EXISTENT_QOS_RULE = 114, 400, "QoS rule exists";
    INV_INPUT_BELOW_RANGE = 115, 400, "invalid input: number below expected range";
    INV_INPUT_QOS_TARGET_OBJECT = 117, 404, "QoS target object does not exist";
    INV_OPERATION_VV_IN_REMOTE_COPY = 120, 403, "volume is in a remote copy group";
    NON_EXISTENT_TASK = 145, 404, "task does not exist";
    INV_OPERATION_UNSUPPORTED_VV_TYPE = 150, 403, "cannot grow this type of volume";
    INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS = 151, 409, "online copy is in progress";
    INV_INPUT_VV_GROW_SIZE = 152, 400, "invalid input: grow size must be positive";
    VV_NEW_SIZE_EXCEEDS_CPG_LIMIT = 153, 403, "new volume size exceeds the CPG growth limit";
    NON_EXISTENT_OBJECT_KEY = 180, 404, "object key does not exist";
    EXISTENT_OBJECT_KEY = 181, 409, "object key exists";
    INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS = 185, 409, "promote is not in progress";
    NON_EXISTENT_RCOPY_GROUP = 187, 404, "remote copy group does not exist";
    RCOPY_GROUP_STARTED = 215, 403, "remote copy group is started";
    EXISTENT_RCOPY_GROUP = 237, 409, "remote copy group exists";
    NON_EXISTENT_FLASH_CACHE = 285, 404, "flash cache does not exist";

    // Placeholders (symbols used by the specs without a verified number): 900 and up.
    RETAINED = 900, 409, "volume is inside its retention time";
    NO_SNAP_CPG = 901, 409, "volume has no snapshot CPG";
    EMPTY_SET = 902, 404, "set is empty";
    INVALID_INPUT_VV_PATTERN = 903, 400, "invalid input: bad volume name pattern";
    MEMBER_IN_SET = 904, 409, "object is already a member of the set";
    MEMBER_NOT_IN_SET = 905, 404, "object is not a member of the set";
    MEMBER_NOT_IN_SAME_DOMAIN = 906, 409, "member is not in the same domain";
    INV_INPUT_DUP_NAME = 907, 400, "invalid input: duplicate name";
    INV_INPUT_UNREC_NAME = 908, 400, "invalid input: unrecognized name";
    CPG_NOT_IN_SAME_DOMAIN = 909, 403, "CPG is not in the same domain";
    INV_INPUT_RETAIN_GT_EXPIRE = 910, 400, "invalid input: retention time cannot be greater than expiration time";
    INV_INPUT_WARN_GT_LIMIT = 911, 400, "invalid input: warning cannot be greater than limit";
    INV_INPUT_USR_ALRT_NON_TPVV = 912, 400, "invalid input: user space allocation alerts are only allowed on thin volumes";
    INV_INPUT_TIME = 913, 400, "invalid input: bad time value";
    INV_INPUT_VV_POLICY = 914, 400, "invalid input: bad volume policy";
    UNLICENSED_FEATURE = 915, 400, "feature is not licensed";
    INV_OPERATION_VV_MODIFY_USR_CPG_TPVV = 916, 403, "cannot change the user CPG of a thin volume";
    INV_INPUT_BAD_LENGTH = 917, 400, "invalid input: bad length";
    NO_INITIATOR_CHAP = 918, 404, "initiator CHAP is not set";
    NON_EXISTENT_CHAP = 919, 404, "CHAP does not exist";
    MISSING_VLUN_EXPORT_INFO = 920, 400, "invalid input: host or port is required";
    AUTO_LUN_ID_UNAVAILABLE = 921, 409, "no free LUN is available";
    INV_OPERATION_PARAM_CONFLICT = 922, 409, "operation parameters conflict";
    INV_OPERATION_VV_BASE_VOLUME = 923, 409, "volume is a base volume";
    INV_OPERATION_PARENT_VV_EXPORTED = 924, 403, "parent volume is exported";
    INV_OPERATION_VV_PROMOTE_IN_PROGRESS = 925, 409, "a promote is in progress in this volume family";
    INV_OPERATION_VV_COPY_TO_SELF = 926, 403, "cannot copy a volume to itself";
    INV_OPERATION_VV_EXPORTED = 927, 403, "volume is exported";
    INV_OPERATION_VV_COPY_PARENT_TOO_BIG = 928, 409, "copy source is larger than the destination";
    INV_OPERATION_VV_READONLY_TO_READONLY_SNAP = 929, 403, "cannot create a read-only snapshot of a read-only volume";
    VV_NEW_SIZE_EXCEEDS_LIMITS = 930, 403, "new volume size exceeds the limit";
    NON_ACTIVE_TASK = 931, 400, "task is not active";
    INV_OPERATION_CANNOT_CANCEL_TASK = 932, 409, "task cannot be cancelled";
    BAD_CPG_PATTERN = 933, 400, "invalid input: bad CPG disk pattern";
    INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT = 934, 403, "the remote copy group role does not allow this operation";
    SNAPSHOT_LIMIT_REACHED = 935, 409, "virtual copy limit reached";
    VV_LIMIT_REACHED = 936, 409, "volume limit reached";
    VV_ID_LIMIT_REACHED = 937, 409, "volume id limit reached";
    INV_OPERATION_PARENT_SIZE_HAS_INCREASED = 938, 409, "the parent volume has grown since the snapshot was taken";
    INV_OPERATION_VV_SNAP_PARENT_SAME_BASE = 939, 400, "snapshot parents share the same base";
    INV_OPERATION_SNAPSHOT_NOT_SAME_TYPE = 940, 403, "set members are not of the same type";
    INV_OPERATION_VV_READ_ONLY = 941, 403, "volume is read-only";
    INV_OPERATION_VV_SNAPSHOT_STALE = 942, 409, "virtual copy is stale";
    INV_OPERATION_VV_NOT_A_SNAPSHOT = 943, 409, "volume is not a virtual copy";
    INV_OPERATION_RO_PARENT_HAS_RW_CHILDREN = 944, 409, "read-only parent has several read-write children";
    ARRAY_OFFLINE = 945, 503, "storage system is not available";
    HOST_IO_ERROR = 946, 409, "host I/O failed";
    INV_INPUT_MIN_GOAL_GT_MAX_LIMIT = 947, 400, "invalid input: minimum goal cannot be greater than maximum limit";
    EXISTENT_FLASH_CACHE = 948, 409, "flash cache exists";

    // Remote Copy (placeholders except 187/215/237 above).
    NON_EXISTENT_RCOPY_TARGET = 950, 404, "remote copy target does not exist";
    EXISTENT_RCOPY_TARGET = 951, 409, "remote copy target exists";
    RCOPY_IS_NOT_READY = 952, 403, "remote copy is not ready";
    RCOPY_TARGET_IS_NOT_READY = 953, 403, "remote copy target is not ready";
    RCOPY_GROUP_INV_TARGET = 954, 403, "target is not valid for this remote copy group";
    RCOPY_GROUP_TARGET_NOT_UNIQUE = 955, 400, "target is listed more than once";
    RCOPY_GROUP_MORE_THAN_ONE_SYNC_TARGET = 956, 400, "a group may have only a single synchronous target";
    RCOPY_GROUP_MORE_THAN_ONE_PERIODIC_TARGET = 957, 400, "a group may have only a single periodic target";
    RCOPY_GROUP_TOO_MANY_TARGETS = 958, 400, "too many targets for the group";
    RCOPY_GROUP_VOL_IN_OTHER_GROUP = 959, 403, "volume is in another remote copy group";
    RCOPY_GROUP_EXISTENT_VOL = 960, 409, "volume is already in the remote copy group";
    RCOPY_GROUP_EXISTENT_VOL_ON_TARGET = 961, 409, "secondary volume already exists on the target";
    RCOPY_GROUP_NON_EXISTENT_VOL_ON_TARGET = 962, 404, "secondary volume does not exist on the target";
    RCOPY_GROUP_VOL_SIZE_NOT_MATCH = 963, 403, "primary and secondary volume sizes do not match";
    RCOPY_GROUP_VOL_IS_RO = 964, 403, "volume is read-only";
    RCOPY_GROUP_VOL_NO_SNAPSHOT_SPACE = 965, 403, "volume has no snapshot space";
    RCOPY_GROUP_VOL_IS_PHYSICAL_COPY = 966, 403, "volume is a physical copy";
    RCOPY_GROUP_TARGET_VOL_EXPORTED = 967, 403, "secondary volume is exported";
    RCOPY_GROUP_MULTIPLE_VOL_IN_SAME_FAMILY = 968, 403, "two volumes of one snapshot family in one group";
    RCOPY_GROUP_SNAPSHOT_IS_RW = 969, 403, "starting snapshot is read-write";
    RCOPY_GROUP_HAS_NO_CPG = 970, 403, "no CPG for automatic volume creation on the target";
    RCOPY_GROUP_VOL_NOT_IN_GROUP = 971, 404, "volume is not in the remote copy group";
    RCOPY_GROUP_EMPTY = 972, 400, "remote copy group is empty";
    RCOPY_GROUP_NOT_STARTED = 973, 403, "remote copy group is not started";
    RCOPY_GROUP_NOT_STOPPED = 974, 403, "remote copy group is not stopped";
    RCOPY_GROUP_IS_BUSY = 975, 409, "remote copy group is busy";
    RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE = 976, 403, "operation is only allowed on the primary side";
    RCOPY_GROUP_OPERATION_ONLY_ON_SECONDARY_SIDE = 977, 403, "operation is only allowed on the secondary side";
    RCOPY_GROUP_IN_FAILOVER_STATE = 978, 403, "remote copy group is in failover state";
    RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION = 979, 403, "remote copy group is already synchronizing";
    RCOPY_GROUP_IS_NOT_PERIODIC = 980, 403, "remote copy group is not periodic";
    RCOPY_GROUP_INV_POLICY_FOR_PERIODIC_GROUP = 981, 403, "policy is not valid for a periodic group";
    RCOPY_GROUP_NOT_ALL_VOLUMES_SPECIFIED = 982, 400, "starting snapshots must be given for all volumes";
    RCOPY_GROUP_MAX_VOL_REACHED = 983, 409, "remote copy group volume limit reached";
    RCOPY_GROUP_WRITE_FAILED = 984, 409, "write failed: remote copy secondary is unreachable (fail_wrt_on_err)";
    RCOPY_VOLUME_IS_SECONDARY = 985, 403, "volume is a remote copy secondary and not host-writable";
    NON_EXISTENT_RCOPY_LINK = 986, 404, "remote copy link does not exist";
    /// The volume must be a base volume (a copy's destination, a tune); 923 says the opposite.
    INV_OPERATION_VV_NOT_BASE_VOLUME = 987, 409, "volume is not a base volume";
    /// Resync needs a physical copy; 150's text is about growing.
    INV_OPERATION_VV_NOT_PHYSICAL_COPY = 988, 403, "volume is not a physical copy";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.symbol(), self.number())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    // Goal: the code table never gives one number to two symbols, and every status is one the
    // Python client maps to an exception class (spec §1.4).
    #[test]
    fn code_numbers_are_unique_and_statuses_are_known() {
        let mut seen = BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.number()), "duplicate number {}", code.number());
            assert!([400, 403, 404, 408, 409, 413, 500, 501, 503, 505].contains(&code.http_status()));
        }
    }

    #[test]
    fn verbatim_descriptions_match_the_spec() {
        assert_eq!(ErrorCode::EXPORTED_VLUN.desc(), "has exported VLUN");
        assert_eq!(ErrorCode::HOST_IN_SET.desc(), "host is a member of a set");
        assert_eq!(ErrorCode::NON_EXISTENT_HOST.desc(), "host does not exist");
        assert_eq!(ErrorCode::INV_INPUT_ILLEGAL_CHAR.desc(), "illegal character in input");
        assert_eq!(ErrorCode::NON_EXISTENT_FLASH_CACHE.desc(), "flash cache does not exist");
    }
}
