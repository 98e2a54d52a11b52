//! Writes folded stacks ([`crate::analysis::folded`]) as `stack value`
//! lines, sorted by stack.

use std::io::Write;

pub use crate::analysis::folded::Folded;

/// Writes `stack value` lines.
pub fn write_folded(out: &mut dyn Write, folded: &Folded) -> std::io::Result<()> {
    for (stack, value) in folded {
        writeln!(out, "{stack} {value}")?;
    }
    Ok(())
}
