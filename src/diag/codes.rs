//! Every diagnostic code in one place. Codes never change meaning once released.
//! E00xx syntax, E01xx names and items, E02xx arguments, E03xx shapes, E04xx holes, W01xx lints.

/// A bug in nasc, caught and reported instead of crashing.
pub const INTERNAL: &str = "E0000";
pub const UNEXPECTED_CHAR: &str = "E0001";
pub const BAD_LITERAL: &str = "E0002";
pub const UNTERMINATED_STRING: &str = "E0003";
pub const TOO_DEEP: &str = "E0004";
pub const NOT_UTF8: &str = "E0005";
pub const CANNOT_READ: &str = "E0006";
pub const UNEXPECTED_TOKEN: &str = "E0010";
pub const UNEXPECTED_EOF: &str = "E0011";

pub const UNKNOWN_NAME: &str = "E0101";
pub const UNKNOWN_CALLEE: &str = "E0102";
pub const UNKNOWN_IMPORT: &str = "E0103";
pub const DUPLICATE_BLOCK: &str = "E0104";
pub const DUPLICATE_PARAM: &str = "E0105";
pub const SHADOWS_OP: &str = "E0106";
pub const RECURSIVE_BLOCK: &str = "E0107";
pub const NO_MODEL: &str = "E0108";
pub const BAD_TYPE: &str = "E0109";
pub const NO_RETURN: &str = "E0110";
pub const UNKNOWN_ATTR: &str = "E0111";
pub const TOO_LARGE: &str = "E0112";

pub const MISSING_ARG: &str = "E0201";
pub const UNKNOWN_ARG: &str = "E0202";
pub const TOO_MANY_ARGS: &str = "E0203";
pub const ARG_TYPE: &str = "E0204";
pub const DUPLICATE_ARG: &str = "E0205";
pub const BAD_ARG_VALUE: &str = "E0206";
pub const BAD_OPERATOR: &str = "E0207";

pub const SHAPE_MISMATCH: &str = "E0301";
pub const INEXACT_DIV: &str = "E0302";
pub const RANK: &str = "E0303";
pub const RETURN_MISMATCH: &str = "E0304";
pub const DIM_ARITH: &str = "E0305";
pub const AXIS: &str = "E0306";
pub const RESHAPE: &str = "E0307";

pub const UNKNOWN_CONSTRAINT: &str = "E0401";
pub const HOLE_SHAPE: &str = "E0402";
pub const BAD_CONSTRAINT: &str = "E0403";
pub const CONFLICTING_CONSTRAINT: &str = "E0404";
pub const HOLE_UNFILLABLE: &str = "E0405";

pub const UNUSED_BINDING: &str = "W0101";
pub const UNUSED_PARAM: &str = "W0102";
pub const MORE_NOT_SHOWN: &str = "W0103";
pub const NOT_CHECKED_ALONE: &str = "W0104";
