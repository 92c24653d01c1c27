//! The abstract syntax tree. Every node carries a [`Span`]; spans and layout trivia
//! (blank lines) do not take part in equality.

use crate::diag::Span;
pub use crate::syntax::lexer::IntLit;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    pub items: Vec<Item>,
    /// Comments after the last item.
    pub trailing_comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
    /// `///` lines, without the slashes.
    pub doc: Vec<String>,
    pub attrs: Vec<Attr>,
    /// Plain `//` comments written above the item, separated from it by a blank line
    /// (a file header, a section title).
    pub detached_comments: Vec<String>,
    /// Plain `//` comments written directly above the item.
    pub comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `use std.resnet`
    Use(Vec<Ident>),
    /// Shared: the program's block table points at the same definition.
    Block(std::sync::Arc<BlockDef>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockDef {
    /// `model` rather than `block`: an entry point.
    pub is_model: bool,
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Vec<Stmt>,
    /// Comments after the last statement, before `}`.
    pub end_comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// `[B, H, W, C]`
    Tensor(Vec<Expr>, Span),
    /// `int`, `float`, `bool`, `str`
    Scalar(Ident),
    /// `([B, N], [B, N])` for blocks with several outputs.
    Tuple(Vec<TypeExpr>, Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Tensor(_, s) | TypeExpr::Tuple(_, s) => *s,
            TypeExpr::Scalar(i) => i.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    pub attrs: Vec<Attr>,
    /// `//` comments above the statement (and any written inside it, moved above).
    pub comments: Vec<String>,
    /// A `//` comment at the end of the statement's last line.
    pub trailing: Option<String>,
    /// A blank line separated this statement from the previous one. Layout only.
    pub blank_before: Layout,
}

/// Layout trivia that printing keeps but equality ignores.
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout(pub bool);

impl PartialEq for Layout {
    fn eq(&self, _: &Layout) -> bool {
        true
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Let { pat: Pattern, value: Expr },
    Return(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Name(Ident),
    Tuple(Vec<Ident>, Span),
}

impl Pattern {
    pub fn names(&self) -> Vec<&Ident> {
        match self {
            Pattern::Name(i) => vec![i],
            Pattern::Tuple(v, _) => v.iter().collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Name(String),
    Int(IntLit),
    Float(f64),
    Str(String),
    Bool(bool),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    /// `f(a, b: 1)`
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `input |> stage`
    Pipe {
        input: Box<Expr>,
        stage: Box<Stage>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg(Box<Expr>),
    Hole(Hole),
}

/// The right-hand side of `|>`: a call whose first argument is the piped value,
/// optionally repeated (`|> BasicBlock(64) * 3`), its arguments then optionally reading the
/// repetition's index (`|> Block(rate: 0.1 * i) * 4 for i`, i from 0 to 3), or a hole.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Call { callee: Ident, args: Vec<Arg>, repeat: Option<Expr>, index: Option<Ident>, span: Span },
    Hole(Hole),
}

impl Stage {
    pub fn span(&self) -> Span {
        match self {
            Stage::Call { span, .. } => *span,
            Stage::Hole(h) => h.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

/// `?<depth >= 3, mixing = ..>(x)`. In a pipe stage `inputs` is empty: the piped value is the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Hole {
    pub constraints: Vec<Constraint>,
    pub inputs: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Ge,
    Le,
    Eq,
    In,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Le => "<=",
            CmpOp::Eq => "=",
            CmpOp::In => "in",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub name: Ident,
    pub op: CmpOp,
    pub value: ConstraintValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintValue {
    /// `..`: unconstrained.
    Any,
    Expr(Expr),
    /// `{conv, relu}`
    Set(Vec<Ident>, Span),
}

/// Build a binary expression (used by the grammar).
pub fn bin(op: BinOp, lhs: Expr, rhs: Expr, span: Span) -> Expr {
    Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}
