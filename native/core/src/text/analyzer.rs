//! Turning text into index terms: segmentation, lowercasing, stop words, stemming.

use std::fmt;

use rust_stemmers::Stemmer;
use unicode_segmentation::UnicodeSegmentation;

use super::hash::FastSet;
use super::language::Language;
use crate::error::{Error, Result};

/// Tokens longer than this many bytes (after lowercasing) are dropped: they are almost
/// always noise (hashes, base64, URLs glued together) and would bloat the dictionary.
pub const MAX_TOKEN_LEN: usize = 64;

/// How a collection's text is analyzed. Serialized in camelCase, every field optional:
///
/// ```json
/// { "language": "fr", "stemming": true, "stopwords": true }
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalyzerConfig {
    /// The language: an English name (`"english"`, `"french"`...) or an ISO 639-1 code
    /// (`"en"`, `"fr"`...), case-insensitive. See [`Language`]. Default `"english"`.
    pub language: String,
    /// Whether tokens are reduced to their Snowball stem. Default `true`.
    pub stemming: bool,
    /// Which stop words are dropped. Default: the language's list.
    pub stopwords: StopwordsConfig,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            language: Language::English.name().to_owned(),
            stemming: true,
            stopwords: StopwordsConfig::default(),
        }
    }
}

/// Default stopword list of the language (true), none (false), or a custom list.
///
/// In JSON: `true`, `false` or an array of words. A custom list replaces the default
/// one; its words are lowercased but not stemmed (they are matched before stemming).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum StopwordsConfig {
    /// `true`: the language's default list ([`Language::default_stopwords`]); `false`: none.
    Enabled(bool),
    /// Exactly these words.
    Custom(Vec<String>),
}

impl Default for StopwordsConfig {
    fn default() -> Self {
        StopwordsConfig::Enabled(true)
    }
}

/// Splits text into the terms that are indexed and searched.
///
/// The pipeline, per token:
/// 1. Unicode word segmentation (UAX #29, [`UnicodeSegmentation::unicode_words`]):
///    punctuation and spaces go, `"don't"`, `"3.5"` and `"2024"` stay single words, each
///    CJK ideograph is its own word.
/// 2. Lowercasing (full Unicode), and the typographic apostrophe `’` becomes `'`.
/// 3. Language rules: English drops a possessive `'s`; French and Italian drop an
///    elided article or pronoun (`l'homme` → `homme`, `qu'il` → `il`).
/// 4. Tokens longer than [`MAX_TOKEN_LEN`] bytes are dropped.
/// 5. Stop words are dropped.
/// 6. Snowball stemming, when enabled.
///
/// An analyzer is immutable, `Send + Sync` and cheap to share behind an `Arc`.
pub struct Analyzer {
    config: AnalyzerConfig,
    language: Language,
    stemmer: Option<Stemmer>,
    stopwords: FastSet<Box<str>>,
}

impl Analyzer {
    /// Builds the analyzer described by `config`.
    ///
    /// Fails with `ERR_INVALID_ARG` when the language is unknown (the message lists the
    /// supported ones).
    pub fn new(config: &AnalyzerConfig) -> Result<Analyzer> {
        let language = Language::parse(&config.language).ok_or_else(|| {
            Error::invalid(format!(
                "unknown analyzer language '{}'; supported: {}",
                config.language,
                Language::supported_list()
            ))
            .with_field("language")
        })?;
        let stopwords: FastSet<Box<str>> = match &config.stopwords {
            StopwordsConfig::Enabled(false) => FastSet::default(),
            StopwordsConfig::Enabled(true) => language.default_stopwords().iter().map(|w| Box::from(*w)).collect(),
            StopwordsConfig::Custom(words) => words
                .iter()
                .map(|w| normalize_word(w.trim()))
                .filter(|w| !w.is_empty())
                .map(String::into_boxed_str)
                .collect(),
        };
        Ok(Analyzer {
            config: config.clone(),
            language,
            stemmer: config.stemming.then(|| Stemmer::create(language.algorithm())),
            stopwords,
        })
    }

    /// The configuration this analyzer was built from.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// The resolved language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Tokens of `text`, in order: Unicode word segmentation (UAX#29 via
    /// unicode-segmentation's unicode_words), lowercase, drop stopwords, stem.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        self.for_each_token(text, |t| tokens.push(t.to_owned()));
        tokens
    }

    /// Same as [`analyze`](Self::analyze) but calls `f` per token without building a
    /// `Vec`; one buffer is reused for every token. For the indexing hot path.
    pub fn for_each_token(&self, text: &str, mut f: impl FnMut(&str)) {
        let mut buf = String::with_capacity(32);
        for word in text.unicode_words() {
            buf.clear();
            lowercase_into(word, &mut buf);
            let start = self.strip_affixes(&mut buf);
            let token = &buf[start..];
            if token.is_empty() || token.len() > MAX_TOKEN_LEN || self.stopwords.contains(token) {
                continue;
            }
            match &self.stemmer {
                Some(stemmer) => f(&stemmer.stem(token)),
                None => f(token),
            }
        }
    }

    /// Applies the language's possessive and elision rules to the lowercased word in
    /// `buf`; returns the start of the remaining token (the end may be truncated).
    fn strip_affixes(&self, buf: &mut String) -> usize {
        if !buf.contains('\'') {
            return 0;
        }
        if self.language == Language::English && buf.ends_with("'s") {
            buf.truncate(buf.len() - 2);
        }
        if let Some(pos) = buf.find('\'') {
            if self.language.elisions().contains(&&buf[..pos]) {
                return pos + 1;
            }
        }
        0
    }
}

impl Clone for Analyzer {
    fn clone(&self) -> Self {
        Analyzer {
            config: self.config.clone(),
            language: self.language,
            stemmer: self.stemmer.as_ref().map(|_| Stemmer::create(self.language.algorithm())),
            stopwords: self.stopwords.clone(),
        }
    }
}

impl fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analyzer")
            .field("language", &self.language)
            .field("stemming", &self.stemmer.is_some())
            .field("stopwords", &self.stopwords.len())
            .finish()
    }
}

impl Default for Analyzer {
    /// English, stemming, the default English stop words.
    fn default() -> Self {
        Analyzer::new(&AnalyzerConfig::default()).expect("the default analyzer config is valid")
    }
}

/// Appends the lowercase form of `word` to `buf`, with `’` turned into `'`.
#[inline]
fn lowercase_into(word: &str, buf: &mut String) {
    if word.is_ascii() {
        buf.push_str(word);
        buf.make_ascii_lowercase();
    } else {
        // `str::to_lowercase` (not per-char) so that a word-final Σ becomes ς.
        let lower = word.to_lowercase();
        if lower.contains('\u{2019}') {
            buf.extend(lower.chars().map(|c| if c == '\u{2019}' { '\'' } else { c }));
        } else {
            buf.push_str(&lower);
        }
    }
}

/// Lowercase + apostrophe normalization of a custom stop word.
fn normalize_word(word: &str) -> String {
    let mut s = String::with_capacity(word.len());
    lowercase_into(word, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer(language: &str, stemming: bool, stopwords: StopwordsConfig) -> Analyzer {
        Analyzer::new(&AnalyzerConfig { language: language.into(), stemming, stopwords }).unwrap()
    }

    fn en() -> Analyzer {
        Analyzer::default()
    }

    #[test]
    fn segmentation_and_lowercase() {
        let a = analyzer("en", false, StopwordsConfig::Enabled(false));
        assert_eq!(
            a.analyze("Hello, World! The quick-brown FOX; e-mail: x@y.io."),
            ["hello", "world", "the", "quick", "brown", "fox", "e", "mail", "x", "y.io"]
        );
        assert!(a.analyze("").is_empty());
        assert!(a.analyze("  ... --- !!! ").is_empty());
    }

    #[test]
    fn numbers_stay_tokens() {
        let a = en();
        assert_eq!(
            a.analyze("In 2024 version 3.5 shipped 1,000 fixes"),
            ["2024", "version", "3.5", "ship", "1,000", "fix"]
        );
    }

    #[test]
    fn english_stopwords_and_stemming() {
        let a = en();
        assert_eq!(a.analyze("The cats are running into the gardens"), ["cat", "run", "garden"]);
        assert_eq!(a.analyze("running runs ran"), ["run", "run", "ran"]);
        // Words outside the short Lucene list are kept.
        assert_eq!(a.analyze("who"), ["who"]);
        assert_eq!(a.analyze("to be or not to be"), Vec::<String>::new());
    }

    #[test]
    fn english_possessives_and_contractions() {
        let a = analyzer("english", false, StopwordsConfig::Enabled(true));
        assert_eq!(a.analyze("John's book and Mary’s pen"), ["john", "book", "mary", "pen"]);
        assert_eq!(a.analyze("don't"), ["don't"]);
        assert_eq!(a.analyze("it's"), Vec::<String>::new()); // "it" is a stop word
        assert_eq!(a.analyze("the students' notes"), ["students", "notes"]);
        // Other languages keep the apostrophe-s.
        let g = analyzer("german", false, StopwordsConfig::Enabled(false));
        assert_eq!(g.analyze("Anna's"), ["anna's"]);
    }

    #[test]
    fn french_stemming_stopwords_and_elision() {
        let a = analyzer("fr", true, StopwordsConfig::Enabled(true));
        assert_eq!(a.analyze("Les chats mangeaient des souris"), ["chat", "mang", "sour"]);
        assert_eq!(a.analyze("l'homme et l’enfant"), ["homm", "enfant"]);
        assert_eq!(a.analyze("qu'il"), Vec::<String>::new());
        assert_eq!(a.analyze("aujourd'hui"), ["aujourd'hui"]);
        let plain = analyzer("french", false, StopwordsConfig::Enabled(true));
        assert_eq!(plain.analyze("Élève À l'École"), ["élève", "école"]);
    }

    #[test]
    fn german_stemming_and_stopwords() {
        let a = analyzer("de", true, StopwordsConfig::Enabled(true));
        assert_eq!(a.analyze("Die Häuser und die Katzen"), ["haus", "katz"]);
        assert_eq!(a.analyze("laufen läuft"), ["lauf", "lauft"]);
    }

    #[test]
    fn stopwords_per_language() {
        let cases = [
            ("spanish", "el perro de la casa", "perro casa"),
            ("italian", "il cane della casa", "cane casa"),
            ("portuguese", "o cão da casa", "cão casa"),
            ("dutch", "de hond van het huis", "hond huis"),
            ("swedish", "och hunden i huset", "hunden huset"),
            ("norwegian", "og hunden i huset", "hunden huset"),
            ("danish", "og hunden i huset", "hunden huset"),
            ("finnish", "ja koira on talossa", "koira talossa"),
            ("russian", "и собака в доме", "собака доме"),
            ("hungarian", "a kutya és a ház", "kutya ház"),
            ("greek", "ο σκύλος και το σπίτι", "σκύλος σπίτι"),
            ("turkish", "köpek ve ev", "köpek ev"),
            ("romanian", "câinele și casa", "câinele casa"),
            ("arabic", "الكلب في البيت", "الكلب البيت"),
        ];
        for (lang, text, expected) in cases {
            let a = analyzer(lang, false, StopwordsConfig::Enabled(true));
            assert_eq!(a.analyze(text).join(" "), expected, "{lang}");
        }
    }

    #[test]
    fn every_language_builds_and_stems() {
        for l in Language::ALL {
            let a = analyzer(l.name(), true, StopwordsConfig::Enabled(true));
            assert_eq!(a.language(), l);
            // Must not panic on mixed scripts, digits and punctuation.
            let _ = a.analyze("Hello wörld 123 3.5 東京 Ελλάδα Москва مرحبا தமிழ் can't l'été");
        }
    }

    #[test]
    fn stopwords_disabled_and_custom() {
        let none = analyzer("en", false, StopwordsConfig::Enabled(false));
        assert_eq!(none.analyze("the cat"), ["the", "cat"]);
        let custom = analyzer("en", true, StopwordsConfig::Custom(vec!["Cat".into(), " dogs ".into(), "".into()]));
        // Custom list replaces the default one, is lowercased, and matched before stemming.
        assert_eq!(custom.analyze("The cat and the cats chased dogs"), ["the", "and", "the", "cat", "chase"]);
    }

    #[test]
    fn stemming_off() {
        let a = analyzer("english", false, StopwordsConfig::Enabled(true));
        assert_eq!(a.analyze("Running quickly"), ["running", "quickly"]);
    }

    #[test]
    fn unicode_words() {
        let a = analyzer("en", false, StopwordsConfig::Enabled(false));
        assert_eq!(a.analyze("Café NAÏVE Straße"), ["café", "naïve", "straße"]);
        // Each Han ideograph is a word per UAX #29; katakana runs stay together.
        assert_eq!(a.analyze("東京タワーに行く"), ["東", "京", "タワー", "に", "行", "く"]);
        // Word-final sigma lowercases to ς.
        let g = analyzer("greek", false, StopwordsConfig::Enabled(false));
        assert_eq!(g.analyze("ΟΔΟΣ"), ["οδος"]);
    }

    #[test]
    fn long_tokens_are_dropped() {
        let a = en();
        let long = "x".repeat(MAX_TOKEN_LEN + 1);
        let max = "z".repeat(MAX_TOKEN_LEN);
        assert_eq!(a.analyze(&format!("short {long} {max} end")), ["short", max.as_str(), "end"]);
        // The limit is in bytes: 33 two-byte letters is 66 bytes.
        assert_eq!(a.analyze(&"é".repeat(33)), Vec::<String>::new());
    }

    #[test]
    fn for_each_token_matches_analyze() {
        let a = en();
        let text = "The Quick brown foxes jumped over the lazy dogs' backs in 2024.";
        let mut seen = Vec::new();
        a.for_each_token(text, |t| seen.push(t.to_owned()));
        assert_eq!(seen, a.analyze(text));
    }

    #[test]
    fn unknown_language_is_invalid_arg() {
        let err = Analyzer::new(&AnalyzerConfig { language: "klingon".into(), ..Default::default() }).unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidArg);
        assert!(err.message().contains("klingon"));
        assert!(err.message().contains("english (en)"));
        assert!(err.message().contains("turkish (tr)"));
    }

    #[test]
    fn config_serde() {
        let c: AnalyzerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, AnalyzerConfig::default());
        let c: AnalyzerConfig = serde_json::from_str(r#"{"language":"fr","stopwords":false}"#).unwrap();
        assert_eq!(c.language, "fr");
        assert!(c.stemming);
        assert_eq!(c.stopwords, StopwordsConfig::Enabled(false));
        let c: AnalyzerConfig = serde_json::from_str(r#"{"stemming":false,"stopwords":["a","b"]}"#).unwrap();
        assert_eq!(c.stopwords, StopwordsConfig::Custom(vec!["a".into(), "b".into()]));
        let json = serde_json::to_string(&AnalyzerConfig::default()).unwrap();
        assert_eq!(json, r#"{"language":"english","stemming":true,"stopwords":true}"#);
    }

    #[test]
    fn analyzer_is_send_sync_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Analyzer>();
        let a = en();
        assert_eq!(a.clone().analyze("running dogs"), a.analyze("running dogs"));
    }
}
