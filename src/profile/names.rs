//! Display names of stack frames.
//!
//! A symbolized location names its inlined frames (innermost first). A
//! location without names is shown as `module+0xoffset`: the base name of its
//! mapping's file and the file offset of the address as the profile wrote it
//! (`envoy+0x6a7aa4e` for `0x4006a7aa4e` in a mapping of `/usr/local/bin/envoy`
//! at `0x4000000000`, offset 0), so it can be fed to `addr2line -e FILE`. An
//! address outside every mapping, or in an anonymous one, is shown as bare hex.
//! A frame is never shown as a bare `[module]`.

use super::{Location, Profile, Sample};

impl Profile {
    /// The frame names of a sample's stack, **leaf first**, inlined frames
    /// expanded (one name per frame, as attribution sees frames).
    pub fn stack_names(&self, sample: &Sample) -> Vec<String> {
        let mut out = Vec::with_capacity(sample.locations.len());
        for &id in &sample.locations {
            if let Some(loc) = self.location(id) {
                out.extend(self.location_names(loc));
            }
        }
        out
    }

    /// The names of every location, by [`LocationId`](super::LocationId):
    /// for code that names many stacks, so each location is named once.
    pub fn location_name_table(&self) -> Vec<Vec<String>> {
        self.locations
            .iter()
            .map(|l| self.location_names(l))
            .collect()
    }

    /// [`Profile::stack_names`] from a [`Profile::location_name_table`].
    pub fn stack_names_from(table: &[Vec<String>], sample: &Sample) -> Vec<String> {
        let mut out = Vec::with_capacity(sample.locations.len());
        for id in &sample.locations {
            if let Some(names) = table.get(id.0 as usize) {
                out.extend(names.iter().cloned());
            }
        }
        out
    }

    /// The frame names of one location, innermost inlined frame first.
    pub fn location_names(&self, loc: &Location) -> Vec<String> {
        let named: Vec<String> = loc
            .lines
            .iter()
            .filter_map(|l| self.function(l.function))
            .map(|f| {
                if f.name.is_empty() {
                    f.system_name.clone()
                } else {
                    f.name.clone()
                }
            })
            .filter(|n| !n.is_empty())
            .collect();
        if !named.is_empty() {
            return named;
        }
        vec![self.address_name(loc)]
    }

    /// `module+0xoffset` for a location's address, or `0xaddress` when no
    /// named mapping contains it.
    pub fn address_name(&self, loc: &Location) -> String {
        let mapping = loc.mapping.and_then(|m| self.mapping(m));
        match mapping.and_then(|m| Some((m.base_name(), m.file_offset(loc.address)?))) {
            Some((module, offset)) if !module.is_empty() => format!("{module}+{:#x}", offset.0),
            _ => format!("{:#x}", loc.address.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::profile::*;

    #[test]
    fn unsymbolized_names() {
        let p = Profile {
            mappings: vec![Mapping {
                start: RuntimeAddr(0x4000000000),
                limit: RuntimeAddr(0x400c2d6000),
                file: "/usr/local/bin/envoy".into(),
                ..Mapping::default()
            }],
            ..Profile::default()
        };
        let mut loc = Location {
            address: RuntimeAddr(0x4006a7aa4e),
            kind: AddressKind::ReturnAddress,
            mapping: Some(MappingId(0)),
            lines: vec![],
            is_folded: false,
        };
        assert_eq!(p.location_names(&loc), vec!["envoy+0x6a7aa4e"]);
        loc.mapping = None;
        assert_eq!(p.location_names(&loc), vec!["0x4006a7aa4e"]);
    }
}
