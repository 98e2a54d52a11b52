//! Reading the `<name>` out of a mangled C++ encoding without demangling
//! the rest: for the symbols whose return types cpp_demangle cannot read.

/// Demangles just the `<name>` of a function's mangled encoding (its
/// nested or unscoped name, template arguments included), leaving out the
/// return and parameter types; `None` for local names and other forms.
pub(super) fn name_only(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix("_Z")?;
    let bytes = rest.as_bytes();
    let end = match bytes.first()? {
        b'N' => skip_balanced(bytes, 0)? + 1,
        b'S' | b'0'..=b'9' => {
            let mut i = if rest.starts_with("St") { 2 } else { 0 };
            if !bytes.get(i)?.is_ascii_digit() {
                return None;
            }
            i = skip_source_name(bytes, i)?;
            if bytes.get(i) == Some(&b'I') {
                skip_balanced(bytes, i)? + 1
            } else {
                i
            }
        }
        _ => return None,
    };
    let name = rest.get(..end)?;
    let mangled = format!("_Z{name}");
    let symbol = super::parse_symbol(&mangled)?;
    symbol
        .demangle_with_options(&cpp_demangle::DemangleOptions::new().recursion_limit(1024))
        .ok()
}

/// `<length><identifier>` at `i`; the index after it.
fn skip_source_name(b: &[u8], i: usize) -> Option<usize> {
    let digits = b
        .get(i..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let len: usize = std::str::from_utf8(b.get(i..i + digits)?)
        .ok()?
        .parse()
        .ok()?;
    let end = i.checked_add(digits)?.checked_add(len)?;
    (end <= b.len()).then_some(end)
}

/// The index of the `E` closing the group opened at `start` (`N`, `I`, …),
/// skipping nested groups, identifiers, substitutions, literals and the
/// other forms whose digits are not identifier lengths.
fn skip_balanced(b: &[u8], start: usize) -> Option<usize> {
    // Open groups; `true` marks a lambda (`Ul…E`), followed by `[n]_`.
    let mut stack: Vec<bool> = Vec::new();
    let mut i = start;
    while i < b.len() {
        if let Some(after) = skip_plain(b, i)? {
            i = after;
            continue;
        }
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        match c {
            b'N' | b'I' | b'X' | b'J' | b'F' | b'Z' => stack.push(false),
            b'U' if next == b'l' => {
                stack.push(true);
                i += 2;
                continue;
            }
            // `DT`/`Dt` (decltype); the other `D…` forms are plain.
            b'D' => {
                stack.push(false);
                i += 2;
                continue;
            }
            b'L' if next == b'Z' || next == b'_' => stack.push(false),
            b'L' => i = skip_literal(b, i)?,
            b'E' => {
                let lambda = stack.pop()?;
                if stack.is_empty() {
                    return Some(i);
                }
                if lambda {
                    i = to_underscore(b, i + 1)?;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A form at `i` that opens no group (an identifier, a two-letter operator
/// name, an unnamed type, a substitution, a template parameter, an array
/// bound): `Some(index after it)`; `Some(None)` when `b[i]` starts no such
/// form; `None` when it is cut short.
fn skip_plain(b: &[u8], i: usize) -> Option<Option<usize>> {
    let c = b[i];
    let next = b.get(i + 1).copied().unwrap_or(0);
    let after = match c {
        b'0'..=b'9' => skip_source_name(b, i)?,
        _ if is_upper_operator(c, next) => i + 2,
        b'U' if next == b't' => to_underscore(b, i + 2)?,
        b'D' if next != b'T' && next != b't' => i + 2,
        b'S' => {
            if matches!(next, b't' | b'a' | b'b' | b's' | b'i' | b'o' | b'd') {
                i + 2
            } else {
                to_underscore(b, i + 1)?
            }
        }
        b'T' if next == b'_' || next.is_ascii_digit() || next.is_ascii_uppercase() => {
            to_underscore(b, i + 1)?
        }
        b'A' => to_underscore(b, i + 1)?,
        _ => return Some(None),
    };
    Some(Some(after))
}

/// Operator names whose second letter is upper case (`aS` is `operator=`).
fn is_upper_operator(c: u8, next: u8) -> bool {
    matches!(
        [c, next],
        [b'a', b'S']
            | [b'p', b'L']
            | [b'm', b'I']
            | [b'm', b'L']
            | [b'd', b'V']
            | [b'r', b'M']
            | [b'a', b'N']
            | [b'o', b'R']
            | [b'e', b'O']
            | [b'l', b'S']
            | [b'r', b'S']
    )
}

/// A literal `L <type> <value> E` starting at `i` (not `LZ`/`L_`): the
/// index of its closing `E`.
fn skip_literal(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    if b.get(i).is_some_and(u8::is_ascii_lowercase) {
        i += 1;
    } else if b.get(i) == Some(&b'N') {
        i = skip_balanced(b, i)? + 1;
    } else if b.get(i).is_some_and(u8::is_ascii_digit) {
        i = skip_source_name(b, i)?;
    } else if b.get(i) == Some(&b'S') {
        i = to_underscore(b, i + 1)?;
    }
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() && *c != b'E')
    {
        i += 1;
    }
    (b.get(i) == Some(&b'E')).then_some(i)
}

/// The index after the next `_` at or after `i` (seq-ids: `S1_`, `T0_`, `Ut_`).
fn to_underscore(b: &[u8], i: usize) -> Option<usize> {
    let n = b.get(i..)?.iter().position(|c| *c == b'_')?;
    Some(i + n + 1)
}
