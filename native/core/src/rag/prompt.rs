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

/// A prompt template: an optional system message, optional example turns, and a user
/// message, with `{{context}}` and `{{question}}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// System message.
    pub system: Option<String>,
    /// Example turns (`user` / `assistant` messages, sent as written) placed between the system
    /// message and the user message: a worked example that shows the answer format, which
    /// small models follow far more reliably than an instruction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Message>,
    /// User message; must contain `{{question}}` and `{{context}}`.
    pub user: String,
}

/// The default system message: answer from the numbered passages, starting with the number of
/// the passage used. (No `[n]` placeholder in the instructions: small models copy it.)
pub const DEFAULT_SYSTEM: &str = "You answer questions using only the numbered passages you are given. \
Begin your answer with \"According to\" and the number of the passage you use in square brackets, then answer in one or two short sentences. \
If no passage answers the question, say that you do not know.";

/// The default user message (the example turn uses the same layout). It ends with the
/// citation instruction: small models follow the last thing they read.
pub const DEFAULT_USER: &str = "Passages:\n{{context}}\n\nQuestion: {{question}}\nBegin your answer with \"According to\" and the number of the passage you use in square brackets.";

/// The question of the default one-shot example, laid out as [`DEFAULT_USER`] lays out a real one.
pub const DEFAULT_EXAMPLE_USER: &str = "Passages:\n[1] Bananas are a yellow fruit rich in potassium.\n\n\
[2] The Eiffel Tower is a wrought-iron tower in Paris. It opened in 1889.\n\n\
Question: When did the Eiffel Tower open?\nBegin your answer with \"According to\" and the number of the passage you use in square brackets.";

/// The answer of the default one-shot example: the passage number first, then one sentence.
pub const DEFAULT_EXAMPLE_ANSWER: &str = "According to [2], the Eiffel Tower opened in 1889.";

impl Default for Template {
    /// The system message, the one-shot example and the user message above. Small models
    /// write a citation far more often when it opens the answer (as in the example) than when
    /// asked to end sentences with one: measured with SmolLM2-135M-Instruct on dev questions of
    /// the shared IR set (`benches/grounding.mjs --citations`), see `benches/README.md`.
    fn default() -> Self {
        Template {
            system: Some(DEFAULT_SYSTEM.into()),
            examples: vec![
                Message { role: "user".into(), content: DEFAULT_EXAMPLE_USER.into() },
                Message { role: "assistant".into(), content: DEFAULT_EXAMPLE_ANSWER.into() },
            ],
            user: DEFAULT_USER.into(),
        }
    }
}

impl Template {
    /// A template from a single user-message string.
    pub fn from_user(user: &str) -> Result<Template> {
        let t = Template { system: None, examples: Vec::new(), user: user.to_string() };
        t.validate()?;
        Ok(t)
    }

    /// Checks the placeholders and the example turns' roles.
    pub fn validate(&self) -> Result<()> {
        for p in ["{{question}}", "{{context}}"] {
            let in_any = self.user.contains(p) || self.system.as_deref().is_some_and(|s| s.contains(p));
            if !in_any {
                return Err(Error::invalid(format!("template must contain {p}")));
            }
        }
        if let Some(m) = self.examples.iter().find(|m| m.role != "user" && m.role != "assistant") {
            return Err(Error::invalid(format!("template examples must be user or assistant messages, got role '{}'", m.role)));
        }
        Ok(())
    }

    /// Renders the messages for `question` over `passages` (numbered from 1): the system
    /// message, the example turns, the user message.
    pub fn render(&self, question: &str, passages: &[&str]) -> Vec<Message> {
        let context = passages.iter().enumerate().map(|(i, p)| format!("[{}] {}", i + 1, p.trim())).collect::<Vec<_>>().join("\n\n");
        let fill = |s: &str| s.replace("{{context}}", &context).replace("{{question}}", question.trim());
        let mut out = Vec::new();
        if let Some(s) = &self.system {
            out.push(Message { role: "system".into(), content: fill(s) });
        }
        out.extend(self.examples.iter().cloned());
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
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert!(m[3].content.contains("[1] Paris.\n\n[2] Rome."));
        assert!(m[3].content.contains("Question: Where is it?\nBegin your answer"));
        // the example is laid out as a real question is
        let example = Template { examples: Vec::new(), ..Template::default() }.render("When did the Eiffel Tower open?", &["Bananas are a yellow fruit rich in potassium.", "The Eiffel Tower is a wrought-iron tower in Paris. It opened in 1889."]);
        assert_eq!(example[1].content, m[1].content);
        assert_eq!(crate::rag::cite::parse_citations(&m[2].content, 2).valid, vec![2]);
        let bad = Template { examples: vec![Message { role: "system".into(), content: "x".into() }], ..Template::default() };
        assert!(bad.validate().is_err());
        assert!(Template::from_user("no placeholders").is_err());
        assert!(Template::from_user("Q: {{question}} C: {{context}}").is_ok());
    }
}
