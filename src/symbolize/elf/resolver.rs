//! [`Resolver`]: one thread's lookups in one file, DWARF first, then the
//! symbol tables.

use std::sync::Arc;

use addr2line::LookupContinuation;

use super::{ElfFile, Reader};
use crate::symbolize::Frame;

/// Looks up frames for addresses of one file; not shared across threads.
pub(crate) struct Resolver<'a> {
    pub(super) file: &'a ElfFile,
    pub(super) context: Option<addr2line::Context<Reader>>,
}

impl Drop for Resolver<'_> {
    fn drop(&mut self) {
        if let (Some(ctx), Ok(mut pool)) = (self.context.take(), self.file.contexts.lock()) {
            pool.push(ctx);
        }
    }
}

impl Resolver<'_> {
    /// The frames at `vaddr`, innermost inlined frame first, ending with the
    /// function that contains it; from DWARF when it knows the address, else
    /// from the symbol table; empty when neither does.
    pub(crate) fn frames(&self, vaddr: u64) -> Vec<Frame> {
        let mut out = Vec::new();
        if let Some(ctx) = &self.context {
            let mut lookup = ctx.find_frames(vaddr);
            let frames = loop {
                match lookup {
                    addr2line::LookupResult::Output(r) => break r,
                    addr2line::LookupResult::Load { load, continuation } => {
                        let dwo = self
                            .file
                            .dwp
                            .as_ref()
                            .and_then(|p| p.find_cu(load.dwo_id, &load.parent).ok().flatten())
                            .map(Arc::new);
                        lookup = continuation.resume(dwo);
                    }
                }
            };
            if let Ok(mut frames) = frames {
                while let Ok(Some(frame)) = frames.next() {
                    let name = frame
                        .function
                        .as_ref()
                        .and_then(|f| f.raw_name().ok().map(|n| n.into_owned()))
                        .unwrap_or_default();
                    let (file, line) = frame
                        .location
                        .map(|l| (l.file.unwrap_or_default().to_string(), l.line.unwrap_or(0)))
                        .unwrap_or_default();
                    out.push(Frame { name, file, line });
                }
            }
        }
        // The outermost frame (the function holding the address) is named by
        // the file's own symbol table when a symbol covers the address, as
        // llvm-symbolizer names it for pprof; else by the detached debug
        // file's symbol table (the same table, for a stripped binary: split
        // DWARF's `.dwo` units may name a member function without its
        // class); else by DWARF. DWARF names the inlined ones.
        let own = self
            .file
            .symbol(vaddr)
            .or_else(|| self.file.debug_symbol(vaddr));
        match out.last_mut() {
            Some(last) => {
                if let Some(s) = own {
                    last.name = s.to_string();
                }
            }
            None => {
                if let Some(s) = own {
                    out.push(Frame {
                        name: s.to_string(),
                        file: String::new(),
                        line: 0,
                    });
                }
            }
        }
        out.retain(|f| !f.name.is_empty());
        out
    }
}
