//! Chat templates: the Jinja template a model ships (`tokenizer.chat_template`) rendered
//! with minijinja the way Hugging Face's `apply_chat_template` renders it.

use hektor_core::rag::prompt::Message;
use hektor_core::{Error, ErrorCode, Result};
use minijinja::{context, Environment, ErrorKind};

/// ChatML, used when a model has no template of its own.
pub(crate) const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}\
{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Upper bound on template work (instructions), so a hostile template cannot spin forever.
const FUEL: u64 = 5_000_000;

/// A compiled chat template.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
    /// True when the template came from the model (false: the ChatML fallback).
    pub from_model: bool,
}

impl ChatTemplate {
    /// Compiles `source` (or ChatML when `None`) with the model's BOS/EOS texts.
    pub fn new(source: Option<String>, bos: String, eos: String) -> Result<ChatTemplate> {
        let from_model = source.is_some();
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_fuel(Some(FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        env.add_template_owned("chat", source.unwrap_or_else(|| CHATML.to_string()))
            .map_err(|e| Error::new(ErrorCode::Parse, format!("the model's chat template does not compile: {e}")))?;
        Ok(ChatTemplate { env, bos, eos, from_model })
    }

    /// Renders `messages` followed by the assistant's generation prompt.
    pub fn render(&self, messages: &[Message]) -> Result<String> {
        let tmpl = self.env.get_template("chat").map_err(|e| Error::internal(format!("chat template: {e}")))?;
        let ctx = context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => &self.bos,
            eos_token => &self.eos,
        };
        tmpl.render(ctx).map_err(|e| {
            // raise_exception is how templates reject input (e.g. roles out of order).
            let msg = match e.kind() {
                ErrorKind::InvalidOperation => e.detail().unwrap_or("rejected by the template").to_string(),
                _ => e.to_string(),
            };
            Error::invalid(format!("the model's chat template rejected the messages: {msg}"))
        })
    }
}

/// `strftime_now(fmt)` of Hugging Face templates (UTC; `%d %b %B %m %Y %y %H %M %S %%`).
fn strftime_now(fmt: &str) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let name = MONTHS[(month - 1).clamp(0, 11) as usize];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('b') => out.push_str(&name[..3]),
            Some('B') => out.push_str(name),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year % 100)),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem % 3600 / 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }

    #[test]
    fn chatml_fallback() {
        let t = ChatTemplate::new(None, String::new(), String::new()).unwrap();
        let s = t.render(&[msg("system", "Be brief."), msg("user", "Hi")]).unwrap();
        assert_eq!(s, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn hf_style_template_with_exception_and_methods() {
        let src = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tools') }}{% endif %}\
[{{ m['role'] | upper }}] {{ m['content'].strip() }}\n{% endfor %}{% if add_generation_prompt %}[ASSISTANT]{% endif %}";
        let t = ChatTemplate::new(Some(src.into()), "<s>".into(), "</s>".into()).unwrap();
        assert_eq!(t.render(&[msg("user", "  hello  ")]).unwrap(), "<s>[USER] hello\n[ASSISTANT]");
        let e = t.render(&[msg("tool", "x")]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArg);
        assert!(e.message().contains("no tools"), "{}", e.message());
    }

    #[test]
    fn bad_template_is_a_parse_error() {
        let e = ChatTemplate::new(Some("{% for %}".into()), String::new(), String::new()).err().unwrap();
        assert_eq!(e.code(), ErrorCode::Parse);
    }

    #[test]
    fn strftime() {
        let s = strftime_now("%d %b %Y");
        assert_eq!(s.len(), 11, "{s}");
    }
}
