//! Every diagnostic code in one place, with its severity, a title and the explanation
//! `nasc explain CODE` prints. Codes never change meaning once released.
//! E00xx syntax, E01xx names and items, E02xx arguments, E03xx shapes, E04xx holes, W01xx lints.

use super::Severity;
use std::fmt;

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $title:literal, $explain:literal; )*) => {
        /// A diagnostic code (`E0301`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant),* }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }
            /// The severity nasc reports this code with.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev),* }
            }
            /// What the code means, in a few words.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title),* }
            }
            /// Why it is reported and how to fix it.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explain),* }
            }
        }
    };
}

codes! {
    Internal = "E0000", Error, "internal error",
        "A bug in nasc, caught and reported instead of crashing. Please report it with the file that triggers it.";
    UnexpectedChar = "E0001", Error, "unexpected character",
        "The lexer met a character that starts no token of the language (for example `$` or a non-ASCII letter in a name). Remove it or put it in a string or comment.";
    BadLiteral = "E0002", Error, "invalid literal",
        "A number could not be read: it has several decimal points, a bad exponent, an unknown suffix, or does not fit in 64 bits. Integers may end in k, M or G (`64k`).";
    UnterminatedString = "E0003", Error, "unterminated string",
        "A string starts with `\"` and the file or line ends before its closing quote.";
    TooDeep = "E0004", Error, "expression too deep or too long",
        "Brackets are nested more than the parser allows, or one statement has more operators than the cap (4096). Split the expression with `let` bindings or blocks.";
    NotUtf8 = "E0005", Error, "file is not UTF-8",
        "Source files must be valid UTF-8. The span points at the first invalid byte; re-save the file as UTF-8.";
    CannotRead = "E0006", Error, "cannot read a file",
        "A file named on the command line or by `use` exists but cannot be read: it is not a regular file (a directory, FIFO or device), it is larger than 16 MiB, or the system refused (permissions).";
    UnexpectedToken = "E0010", Error, "unexpected token",
        "The parser expected something else here; the message lists what it expected. Often a missing `)`, `,` or `}` just before.";
    UnexpectedEof = "E0011", Error, "unexpected end of file",
        "The file ends inside a block, model or expression. Close every `{`, `(` and `[`.";
    UnknownName = "E0101", Error, "unknown name",
        "A name is used that no `let`, parameter or block defines in scope. Check the spelling; the hint suggests a near name when there is one.";
    UnknownCallee = "E0102", Error, "unknown op or block",
        "A call names neither a primitive op (`nasc ops` lists them) nor a block of this file or its imports. Blocks of the standard library need `use stdlib.NAME`.";
    UnknownImport = "E0103", Error, "unknown import",
        "`use a.b` names a file that does not exist (`a/b.nas` beside the importing file, or `stdlib/b.nas`), or one outside the directory tree of the root file.";
    DuplicateBlock = "E0104", Error, "duplicate block",
        "Two blocks or models have the same name, in one file or across imports. Rename one.";
    DuplicateParam = "E0105", Error, "duplicate parameter",
        "A block lists the same parameter name twice.";
    ShadowsOp = "E0106", Error, "block named like an op",
        "A block may not take the name of a primitive op (`relu`, `conv`, ...): calls would be ambiguous. Rename the block.";
    RecursiveBlock = "E0107", Error, "recursive block",
        "A block calls itself, directly or through other blocks. Architectures are finite graphs: use repetition (`Block * 4`) instead.";
    NoModel = "E0108", Error, "no such model",
        "The command needs a `model`, and the file has none, or `--model NAME` names one that does not exist. The note lists the models there are.";
    BadType = "E0109", Error, "bad type",
        "A parameter or dim has a type the language does not have (types are int, float, bool, str and tensor shapes `[..]`), or a dim expression is not an int.";
    NoReturn = "E0110", Error, "missing return",
        "A block or model body must end with `return EXPR`.";
    UnknownAttr = "E0111", Error, "unknown attribute",
        "An `@attribute` before a block is not one nasc knows. The hint lists the known attributes.";
    TooLarge = "E0112", Error, "program too large",
        "The program is over one of nasc's size limits: inlining it would create more nodes than the budget allows (200,000 per check), usually through nested repetition or blocks that call others several times (the note shows the call chain that grew it); or a tensor has more than 64 dims or more than 2^63 elements.";
    MissingArg = "E0201", Error, "missing argument",
        "An op or block call leaves out a required argument. The message shows the signature.";
    UnknownArg = "E0202", Error, "unknown named argument",
        "A call names an argument the op or block does not have. The hint suggests the nearest name.";
    TooManyArgs = "E0203", Error, "too many arguments",
        "A call passes more positional arguments than the op or block takes.";
    ArgType = "E0204", Error, "argument of the wrong type",
        "An argument has the wrong kind: a tensor where an int is expected, a float for an int, a string for a list, ...";
    DuplicateArg = "E0205", Error, "argument given twice",
        "The same argument is passed twice, by position and by name or by name twice.";
    BadArgValue = "E0206", Error, "bad argument value",
        "An argument has the right type but a value the op refuses: a non-positive size, a dropout rate outside [0, 1), a norm's `eps` that is not positive or a `momentum` outside [0, 1], a window list that is not `[height, width]`, a negative padding, a window larger than its padded input, `ceil_mode` on a symbolic size, an axis that must be known, too many split parts.";
    BadOperator = "E0207", Error, "operator not defined here",
        "An arithmetic operator is applied to values it does not support: tensors support `+` and `*` element-wise (not `-` or `/`); dims support `+ - * /`.";
    ShapeMismatch = "E0301", Error, "shape mismatch",
        "Two shapes that must agree do not: the inputs of `+`, an argument and a block parameter, concat inputs off the axis, matmul inner dims. The labels show both shapes; element-wise ops broadcast dims of size 1.";
    InexactDiv = "E0302", Error, "inexact division",
        "A dim must divide exactly: a stride must divide the height and width (SAME padding gives H/stride, and inside a block explicit padding such as 3×3 / stride 2 / padding 1 does too; each call checks its concrete sizes), `groups` must divide the channels, a dim expression `C / 2` must be whole.";
    Rank = "E0303", Error, "wrong rank",
        "An op needs a different number of dims: conv and pools take [B, H, W, C], matmul needs rank 2 or more, concat inputs must have equal rank.";
    ReturnMismatch = "E0304", Error, "return shape differs from the signature",
        "The shape a block or model returns is not the one its signature declares after `->`.";
    DimArith = "E0305", Error, "dim arithmetic failed",
        "A dim expression cannot be computed: division by zero, a result that does not fit in 64 bits, or an expression on symbolic dims the checker cannot decide.";
    Axis = "E0306", Error, "axis out of range",
        "An axis is outside the tensor's rank (axes run from 0 to rank-1, or -rank to -1), or is listed twice.";
    Reshape = "E0307", Error, "bad reshape",
        "A reshape changes the number of elements, or has more than one -1 dim.";
    UnknownConstraint = "E0401", Error, "unknown hole constraint",
        "A hole `?<...>` names a property nasc does not know. Holes take depth, mixing, shape, ops, params and macs.";
    HoleShape = "E0402", Error, "hole shape unknown",
        "A hole's output shape cannot be inferred: give it a `shape = [..]` constraint, return it, or use it as an operand of `+` or `*` beside a tensor of known shape.";
    BadConstraint = "E0403", Error, "bad hole constraint",
        "A constraint of a hole has the wrong form: a comparison a property does not support, a value of the wrong kind, or an `ops in {..}` entry that is not an op.";
    ConflictingConstraint = "E0404", Error, "contradictory hole constraints",
        "The constraints of a hole cannot all hold (for example `depth >= 5` and `depth <= 2`, or a mixing no op sequence has).";
    HoleUnfillable = "E0405", Error, "hole cannot be filled",
        "Synthesis found no sub-network meeting the hole's constraints within its search budget. The note says which constraint failed; loosen it or raise the budget. A hole with several inputs, `?<...>(a, b)`, is filled with one chain per input, a junction (a sum, or a concatenation of channels) and a chain after it; it fails when no junction can join the inputs (e.g. they cannot be brought to one shape) and does not take `params` or `macs` bounds yet.";
    UnusedBinding = "W0101", Warning, "unused binding",
        "A `let` binds a value that is never used. Remove it, or use it.";
    UnusedParam = "W0102", Warning, "unused parameter",
        "A block parameter is never used in its body.";
    MoreNotShown = "W0103", Warning, "more diagnostics not shown",
        "The output stopped after 10,000 diagnostics; this line counts the rest. Fix the first ones and check again.";
    NotCheckedAlone = "W0104", Warning, "blocks not checked on their own",
        "The check's node budget ran out before every block was checked generically; the listed blocks were checked only through the models that call them.";
}

impl Code {
    /// The code named by `text` (`E0301`, case-insensitive).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub use Code::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_match_their_severity() {
        let strs: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = strs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, strs, "codes must be unique and listed in order");
        for c in Code::ALL {
            let warning = c.as_str().starts_with('W');
            assert_eq!(c.severity() == Severity::Warning, warning, "{c}");
            assert!(!c.explanation().is_empty() && !c.title().is_empty());
            assert_eq!(Code::parse(&c.as_str().to_lowercase()), Some(*c));
        }
        assert_eq!(Code::parse("E9999"), None);
    }
}
