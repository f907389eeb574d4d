//! The element path that locates records (`catalog/book`, `atom:feed/atom:entry`).

use std::collections::HashMap;

use quick_xml::name::ResolveResult;

/// One step of the path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    /// Namespace URI the element must be in (when the step's prefix is bound in `namespaces`).
    ns: Option<String>,
    /// Local name, or `*` for any element.
    local: String,
}

/// A parsed record path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ElementPath {
    steps: Vec<Step>,
}

impl std::fmt::Display for ElementPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.prefix(self.steps.len()))
    }
}

impl ElementPath {
    /// Parses `path`; a prefix must be bound in `namespaces` when that map is not empty.
    pub(crate) fn parse(path: &str, namespaces: &HashMap<String, String>) -> Result<ElementPath, String> {
        let trimmed = path.trim().trim_start_matches('/');
        if trimmed.is_empty() {
            return Err("xml option path must name the record element, e.g. \"catalog/book\"".into());
        }
        let mut steps = Vec::new();
        for seg in trimmed.split('/') {
            if seg.is_empty() || seg.chars().any(char::is_whitespace) {
                return Err(format!("xml path {path:?} has an empty or invalid step"));
            }
            let (prefix, local) = match seg.split_once(':') {
                Some((p, l)) => (Some(p), l),
                None => (None, seg),
            };
            if local.is_empty() || prefix == Some("") {
                return Err(format!("xml path step {seg:?} is not an element name"));
            }
            let ns = match prefix {
                Some(p) if !namespaces.is_empty() => Some(
                    namespaces
                        .get(p)
                        .cloned()
                        .ok_or_else(|| format!("xml path step {seg:?} uses prefix '{p}', which namespaces does not bind"))?,
                ),
                _ => None,
            };
            steps.push(Step { ns, local: local.to_string() });
        }
        Ok(ElementPath { steps })
    }

    /// The first `n` steps as written (`catalog/book`).
    pub(crate) fn prefix(&self, n: usize) -> String {
        self.steps.iter().take(n).map(|s| s.local.as_str()).collect::<Vec<_>>().join("/")
    }

    /// Number of steps: records are elements at depth `len() - 1` (the root is depth 0).
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether an element at `depth` named `local` in namespace `ns` matches that step.
    pub(crate) fn matches(&self, depth: usize, ns: &ResolveResult<'_>, local: &str) -> bool {
        let Some(step) = self.steps.get(depth) else { return false };
        if step.local != "*" && step.local != local {
            return false;
        }
        match &step.ns {
            None => true,
            Some(want) => matches!(ns, ResolveResult::Bound(n) if n.0 == want),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::name::Namespace;

    #[test]
    fn steps_prefixes_and_wildcards() {
        let none = HashMap::new();
        let p = ElementPath::parse("/catalog/*/book", &none).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.matches(1, &ResolveResult::Unbound, "anything"));
        assert!(p.matches(2, &ResolveResult::Unbound, "book"));
        assert!(!p.matches(3, &ResolveResult::Unbound, "book"));
        let p = ElementPath::parse("a:feed/a:entry", &none).unwrap();
        assert!(p.matches(1, &ResolveResult::Unbound, "entry"), "without namespaces, local names match");
        let ns = HashMap::from([("a".to_string(), "urn:atom".to_string())]);
        let p = ElementPath::parse("a:feed/a:entry", &ns).unwrap();
        assert!(p.matches(1, &ResolveResult::Bound(Namespace("urn:atom")), "entry"));
        assert!(!p.matches(1, &ResolveResult::Bound(Namespace("urn:other")), "entry"));
        assert!(!p.matches(1, &ResolveResult::Unbound, "entry"));
        assert!(ElementPath::parse("b:feed", &ns).is_err());
        assert!(ElementPath::parse("", &none).is_err());
        assert!(ElementPath::parse("a//b", &none).is_err());
    }
}
