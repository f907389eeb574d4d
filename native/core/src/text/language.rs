//! The languages the analyzer knows: one per Snowball stemmer of `rust-stemmers`.

use std::fmt;

use rust_stemmers::Algorithm;

use super::stopwords;

/// A language supported by the [`Analyzer`](super::Analyzer): it selects the Snowball
/// stemmer, the default stop word list and a few language-specific token rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// Arabic (`ar`).
    Arabic,
    /// Danish (`da`).
    Danish,
    /// Dutch (`nl`).
    Dutch,
    /// English (`en`).
    English,
    /// Finnish (`fi`).
    Finnish,
    /// French (`fr`).
    French,
    /// German (`de`).
    German,
    /// Greek (`el`).
    Greek,
    /// Hungarian (`hu`).
    Hungarian,
    /// Italian (`it`).
    Italian,
    /// Norwegian (`no`, also `nb` and `nn`).
    Norwegian,
    /// Portuguese (`pt`).
    Portuguese,
    /// Romanian (`ro`).
    Romanian,
    /// Russian (`ru`).
    Russian,
    /// Spanish (`es`).
    Spanish,
    /// Swedish (`sv`).
    Swedish,
    /// Tamil (`ta`).
    Tamil,
    /// Turkish (`tr`).
    Turkish,
}

impl Language {
    /// Every supported language, in alphabetical order of [`name`](Self::name).
    pub const ALL: [Language; 18] = [
        Language::Arabic,
        Language::Danish,
        Language::Dutch,
        Language::English,
        Language::Finnish,
        Language::French,
        Language::German,
        Language::Greek,
        Language::Hungarian,
        Language::Italian,
        Language::Norwegian,
        Language::Portuguese,
        Language::Romanian,
        Language::Russian,
        Language::Spanish,
        Language::Swedish,
        Language::Tamil,
        Language::Turkish,
    ];

    /// Parses an English language name (`"french"`) or an ISO 639-1 code (`"fr"`),
    /// ignoring case and surrounding whitespace.
    pub fn parse(name: &str) -> Option<Language> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("nb") || name.eq_ignore_ascii_case("nn") {
            return Some(Language::Norwegian);
        }
        Language::ALL
            .into_iter()
            .find(|l| name.eq_ignore_ascii_case(l.name()) || name.eq_ignore_ascii_case(l.iso_code()))
    }

    /// The lowercase English name, e.g. `"french"`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Arabic => "arabic",
            Language::Danish => "danish",
            Language::Dutch => "dutch",
            Language::English => "english",
            Language::Finnish => "finnish",
            Language::French => "french",
            Language::German => "german",
            Language::Greek => "greek",
            Language::Hungarian => "hungarian",
            Language::Italian => "italian",
            Language::Norwegian => "norwegian",
            Language::Portuguese => "portuguese",
            Language::Romanian => "romanian",
            Language::Russian => "russian",
            Language::Spanish => "spanish",
            Language::Swedish => "swedish",
            Language::Tamil => "tamil",
            Language::Turkish => "turkish",
        }
    }

    /// The ISO 639-1 code, e.g. `"fr"`.
    pub fn iso_code(self) -> &'static str {
        match self {
            Language::Arabic => "ar",
            Language::Danish => "da",
            Language::Dutch => "nl",
            Language::English => "en",
            Language::Finnish => "fi",
            Language::French => "fr",
            Language::German => "de",
            Language::Greek => "el",
            Language::Hungarian => "hu",
            Language::Italian => "it",
            Language::Norwegian => "no",
            Language::Portuguese => "pt",
            Language::Romanian => "ro",
            Language::Russian => "ru",
            Language::Spanish => "es",
            Language::Swedish => "sv",
            Language::Tamil => "ta",
            Language::Turkish => "tr",
        }
    }

    /// The default stop words of the language (lowercase, unstemmed).
    ///
    /// English uses the 33-word Lucene/tantivy list (`a an and are as at be but by for if
    /// in into is it no not of on or such that the their then there these they this to was
    /// will with`), not the long Snowball list: BM25's IDF already discounts frequent
    /// words, and keeping words like "who", "me" or "own" ranks better. Danish, Dutch,
    /// Finnish, French, German, Hungarian, Italian, Norwegian, Portuguese, Russian, Spanish
    /// and Swedish use the Snowball project's lists. Arabic, Greek, Romanian and Turkish,
    /// which have no Snowball list, get a short list of their most frequent function
    /// words. Tamil has none.
    pub fn default_stopwords(self) -> &'static [&'static str] {
        match self {
            Language::Arabic => stopwords::ARABIC,
            Language::Danish => stopwords::DANISH,
            Language::Dutch => stopwords::DUTCH,
            Language::English => stopwords::ENGLISH,
            Language::Finnish => stopwords::FINNISH,
            Language::French => stopwords::FRENCH,
            Language::German => stopwords::GERMAN,
            Language::Greek => stopwords::GREEK,
            Language::Hungarian => stopwords::HUNGARIAN,
            Language::Italian => stopwords::ITALIAN,
            Language::Norwegian => stopwords::NORWEGIAN,
            Language::Portuguese => stopwords::PORTUGUESE,
            Language::Romanian => stopwords::ROMANIAN,
            Language::Russian => stopwords::RUSSIAN,
            Language::Spanish => stopwords::SPANISH,
            Language::Swedish => stopwords::SWEDISH,
            Language::Tamil => stopwords::TAMIL,
            Language::Turkish => stopwords::TURKISH,
        }
    }

    /// Elided articles and pronouns written before an apostrophe (`l'`, `qu'`...), which
    /// the analyzer strips from the front of a word (as Lucene's `ElisionFilter` does).
    pub(crate) fn elisions(self) -> &'static [&'static str] {
        match self {
            Language::French => &["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"],
            Language::Italian => &[
                "c", "l", "all", "dall", "dell", "nell", "sull", "coll", "pell", "gl", "agl", "dagl", "degl", "negl",
                "sugl", "un", "m", "t", "s", "v", "d",
            ],
            _ => &[],
        }
    }

    /// The Snowball algorithm of the language.
    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Language::Arabic => Algorithm::Arabic,
            Language::Danish => Algorithm::Danish,
            Language::Dutch => Algorithm::Dutch,
            Language::English => Algorithm::English,
            Language::Finnish => Algorithm::Finnish,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Greek => Algorithm::Greek,
            Language::Hungarian => Algorithm::Hungarian,
            Language::Italian => Algorithm::Italian,
            Language::Norwegian => Algorithm::Norwegian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Romanian => Algorithm::Romanian,
            Language::Russian => Algorithm::Russian,
            Language::Spanish => Algorithm::Spanish,
            Language::Swedish => Algorithm::Swedish,
            Language::Tamil => Algorithm::Tamil,
            Language::Turkish => Algorithm::Turkish,
        }
    }

    /// `"arabic (ar), danish (da), ..."`, for error messages.
    pub(crate) fn supported_list() -> String {
        Language::ALL.iter().map(|l| format!("{} ({})", l.name(), l.iso_code())).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_codes() {
        for l in Language::ALL {
            assert_eq!(Language::parse(l.name()), Some(l));
            assert_eq!(Language::parse(l.iso_code()), Some(l));
            assert_eq!(Language::parse(&l.name().to_uppercase()), Some(l));
        }
        assert_eq!(Language::parse(" English "), Some(Language::English));
        assert_eq!(Language::parse("nb"), Some(Language::Norwegian));
        assert_eq!(Language::parse("klingon"), None);
        assert_eq!(Language::parse(""), None);
    }

    #[test]
    fn stopword_lists_are_lowercase_and_unique() {
        for l in Language::ALL {
            let words = l.default_stopwords();
            let mut seen = std::collections::HashSet::new();
            for w in words {
                assert_eq!(*w, w.to_lowercase(), "{l}: {w}");
                assert!(seen.insert(*w), "{l}: duplicate {w}");
            }
        }
        assert_eq!(Language::English.default_stopwords().len(), 33);
    }
}
