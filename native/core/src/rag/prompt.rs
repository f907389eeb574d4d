//! Prompt templates: numbered context passages plus the question, as chat messages.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A prompt template: an optional system message and a user message, with `{{context}}`
/// and `{{question}}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// System message.
    pub system: Option<String>,
    /// User message; must contain `{{question}}` and `{{context}}`.
    pub user: String,
}

/// The default system message.
pub const DEFAULT_SYSTEM: &str = "You answer questions using only the numbered context passages you are given. \
Cite the passages that support each statement with their numbers in square brackets, like [1] or [2][3]. \
If the passages do not contain the answer, say that you do not know. Be concise.";

/// The default user message.
pub const DEFAULT_USER: &str = "Context passages:\n{{context}}\n\nQuestion: {{question}}";

impl Default for Template {
    fn default() -> Self {
        Template { system: Some(DEFAULT_SYSTEM.into()), user: DEFAULT_USER.into() }
    }
}

impl Template {
    /// A template from a single user-message string.
    pub fn from_user(user: &str) -> Result<Template> {
        let t = Template { system: None, user: user.to_string() };
        t.validate()?;
        Ok(t)
    }

    /// Checks the placeholders.
    pub fn validate(&self) -> Result<()> {
        for p in ["{{question}}", "{{context}}"] {
            let in_any = self.user.contains(p) || self.system.as_deref().is_some_and(|s| s.contains(p));
            if !in_any {
                return Err(Error::invalid(format!("template must contain {p}")));
            }
        }
        Ok(())
    }

    /// Renders the messages for `question` over `passages` (numbered from 1).
    pub fn render(&self, question: &str, passages: &[&str]) -> Vec<Message> {
        let context = passages.iter().enumerate().map(|(i, p)| format!("[{}] {}", i + 1, p.trim())).collect::<Vec<_>>().join("\n\n");
        let fill = |s: &str| s.replace("{{context}}", &context).replace("{{question}}", question.trim());
        let mut out = Vec::new();
        if let Some(s) = &self.system {
            out.push(Message { role: "system".into(), content: fill(s) });
        }
        out.push(Message { role: "user".into(), content: fill(&self.user) });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_numbered_passages() {
        let m = Template::default().render("Where is it?", &["Paris.", " Rome. "]);
        assert_eq!(m[0].role, "system");
        assert!(m[1].content.contains("[1] Paris.\n\n[2] Rome."));
        assert!(m[1].content.ends_with("Question: Where is it?"));
        assert!(Template::from_user("no placeholders").is_err());
        assert!(Template::from_user("Q: {{question}} C: {{context}}").is_ok());
    }
}
