//! A program: the root file, the files it imports with `use`, and their blocks.
//! `use std.x` reads the stdlib compiled into nasc; `use a.b` reads `a/b.nas` next to the file.

use crate::diag::{Diagnostic, FileId, SourceMap, Span, codes};
use crate::syntax::ast::{self, ItemKind};
use crate::syntax::{decode, parse};
use std::path::{Path, PathBuf};

/// The stdlib, compiled in so `nasc` works from any directory.
pub const STDLIB: &[(&str, &str)] = &[
    ("resnet", include_str!("../../../stdlib/resnet.nas")),
    ("vit", include_str!("../../../stdlib/vit.nas")),
    ("efficientnet", include_str!("../../../stdlib/efficientnet.nas")),
    ("cnn", include_str!("../../../stdlib/cnn.nas")),
    ("mlp", include_str!("../../../stdlib/mlp.nas")),
    ("mobilenet", include_str!("../../../stdlib/mobilenet.nas")),
    ("convnext", include_str!("../../../stdlib/convnext.nas")),
    ("densenet", include_str!("../../../stdlib/densenet.nas")),
    ("inception", include_str!("../../../stdlib/inception.nas")),
];

#[derive(Clone, Debug)]
pub struct BlockEntry {
    pub def: std::sync::Arc<ast::BlockDef>,
    pub file: FileId,
    pub doc: Vec<String>,
    pub attrs: Vec<ast::Attr>,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub sources: SourceMap,
    pub files: Vec<(FileId, ast::File)>,
    pub root: FileId,
    /// Every block of every loaded file, imports first.
    pub blocks: Vec<BlockEntry>,
    /// Syntax and import errors.
    pub diagnostics: Vec<Diagnostic>,
    /// Block name → index of its first definition in `blocks`.
    index: std::collections::HashMap<String, usize>,
    /// Imports must resolve inside this directory (canonical): the root file's.
    tree: Option<PathBuf>,
}

/// The largest source file read (a `.nas` file is a few KB; this stops `/dev/zero`-like input).
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Set to `1` to let `use a.b` follow symlinks out of the root file's directory tree.
pub const IMPORT_ANYWHERE_ENV: &str = "NASC_IMPORT_ANYWHERE";

/// Read a source file: only a regular file (a FIFO or device would block or never end), at most
/// `MAX_SOURCE_BYTES`. The error is a sentence for a diagnostic.
pub fn read_source(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(format!("{} bytes, more than the {} MiB a source file may have", meta.len(), MAX_SOURCE_BYTES >> 20));
    }
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!("more than the {} MiB a source file may have", MAX_SOURCE_BYTES >> 20));
    }
    Ok(bytes)
}

impl Program {
    /// Load a file and everything it imports.
    pub fn load(path: &Path) -> Program {
        let mut p = Program::default();
        let name = path.display().to_string();
        match read_source(path) {
            Ok(bytes) => {
                let dir = path.parent().map(Path::to_path_buf);
                p.tree = canonical_dir(dir.as_deref());
                p.root = p.add_bytes(&name, bytes, dir);
            }
            Err(e) => {
                p.root = p.sources.add(&name, String::new());
                let span = Span::new(p.root, 0, 0);
                p.diagnostics.push(Diagnostic::error(codes::CannotRead, format!("cannot read `{name}`: {e}"), span));
            }
        }
        p
    }

    /// Compile text that has no file on disk; relative imports resolve from the current directory.
    pub fn from_source(name: &str, text: &str) -> Program {
        Program::from_source_in(name, text, None)
    }

    /// Compile text whose relative imports resolve from `dir`.
    pub fn from_source_in(name: &str, text: &str, dir: Option<&Path>) -> Program {
        let mut p = Program { tree: canonical_dir(dir), ..Program::default() };
        p.root = p.add_text(name, text.to_string(), dir.map(Path::to_path_buf));
        p
    }

    /// The directory relative imports of the root file resolve from.
    pub fn root_dir(&self) -> Option<PathBuf> {
        let name = &self.sources.get(self.root)?.name;
        Path::new(name).parent().map(Path::to_path_buf)
    }

    pub fn block(&self, name: &str) -> Option<&BlockEntry> {
        self.index.get(name).map(|&i| &self.blocks[i])
    }

    /// The `model` items of the root file.
    pub fn models(&self) -> Vec<&BlockEntry> {
        self.blocks.iter().filter(|b| b.def.is_model && b.file == self.root).collect()
    }

    /// The AST of the root file.
    pub fn root_ast(&self) -> Option<&ast::File> {
        self.files.iter().find(|(f, _)| *f == self.root).map(|(_, a)| a)
    }

    fn add_bytes(&mut self, name: &str, bytes: Vec<u8>, dir: Option<PathBuf>) -> FileId {
        match decode(self.sources.next_id(), bytes) {
            Ok(text) => self.add_text(name, text, dir),
            Err((diag, lossy)) => {
                // Keep the readable text so the diagnostic can show the line it stops on.
                let id = self.sources.add(name, lossy);
                self.diagnostics.push(diag);
                id
            }
        }
    }

    fn add_text(&mut self, name: &str, text: String, dir: Option<PathBuf>) -> FileId {
        let id = self.sources.add(name, text);
        let src = self.sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
        let (file, diags) = parse(id, &src);
        self.diagnostics.extend(diags);
        for item in &file.items {
            if let ItemKind::Use(path) = &item.kind {
                self.import(path, dir.as_deref());
            }
        }
        for item in &file.items {
            if let ItemKind::Block(def) = &item.kind {
                let entry = BlockEntry { def: def.clone(), file: id, doc: item.doc.clone(), attrs: item.attrs.clone() };
                self.index.entry(def.name.name.clone()).or_insert(self.blocks.len());
                self.blocks.push(entry);
            }
        }
        self.files.push((id, file));
        id
    }

    fn import(&mut self, path: &[ast::Ident], dir: Option<&Path>) {
        let (Some(first), Some(last)) = (path.first(), path.last()) else { return };
        let span = first.span.to(last.span);
        let dotted: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
        if dotted[0] == "std" {
            let key = dotted[1..].join(".");
            let name = format!("std/{key}.nas");
            if self.sources.find(&name).is_some() {
                return;
            }
            match STDLIB.iter().find(|(k, _)| *k == key) {
                Some((_, text)) => {
                    self.add_text(&name, text.to_string(), None);
                }
                None => {
                    let known: Vec<String> = STDLIB.iter().map(|(k, _)| format!("std.{k}")).collect();
                    self.diagnostics.push(
                        Diagnostic::error(codes::UnknownImport, format!("no stdlib module `{}`", dotted.join(".")), span)
                            .with_note(format!("the stdlib has {}", known.join(", "))),
                    );
                }
            }
            return;
        }
        let rel: PathBuf = dotted.iter().collect::<PathBuf>().with_extension("nas");
        let full = dir.map_or(rel.clone(), |d| d.join(&rel));
        let name = full.display().to_string();
        if self.sources.find(&name).is_some() {
            return;
        }
        match self.read_import(&full) {
            Ok(bytes) => {
                let sub = full.parent().map(Path::to_path_buf);
                self.add_bytes(&name, bytes, sub);
            }
            Err(e) => self.diagnostics.push(
                Diagnostic::error(codes::UnknownImport, format!("cannot import `{}`", dotted.join(".")), span)
                    .with_primary_label(format!("{name}: {e}"))
                    .with_hint("`use a.b` reads a/b.nas next to this file; `use std.resnet` reads the stdlib"),
            ),
        }
    }

    /// An import's bytes, refused when a symlink takes it out of the root file's directory tree
    /// or to something that is not a `.nas` file: its text would be echoed in diagnostics.
    fn read_import(&self, full: &Path) -> Result<Vec<u8>, String> {
        let real = std::fs::canonicalize(full).map_err(|e| e.to_string())?;
        let anywhere = std::env::var(IMPORT_ANYWHERE_ENV).is_ok_and(|v| v == "1");
        if real.extension().is_none_or(|e| e != "nas") {
            return Err(format!("it leads to `{}`, which is not a .nas file", real.display()));
        }
        if let Some(tree) = self.tree.as_deref().filter(|t| !anywhere && !real.starts_with(t)) {
            return Err(format!("it leads to `{}`, outside `{}` (set {IMPORT_ANYWHERE_ENV}=1 to allow)", real.display(), tree.display()));
        }
        read_source(&real)
    }
}

/// The canonical form of the directory imports resolve from (`None`: the current directory).
fn canonical_dir(dir: Option<&Path>) -> Option<PathBuf> {
    let dir = dir.filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).ok()
}
