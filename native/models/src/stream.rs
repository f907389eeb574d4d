//! Stop strings applied to text that arrives in pieces.

/// Applies stop strings to streamed text: a stop string and what follows it are never
/// emitted, and text that could be the beginning of a stop string is held back until
/// the next piece shows that it is not.
pub(crate) struct StopFilter<'a> {
    stops: Vec<&'a str>,
    text: String,
    emitted: usize,
    stopped: bool,
}

impl<'a> StopFilter<'a> {
    pub fn new(stops: &'a [String]) -> Self {
        StopFilter { stops: stops.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect(), text: String::new(), emitted: 0, stopped: false }
    }

    /// Adds `piece`; returns the text that is safe to emit and whether a stop string hit.
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        self.text.push_str(piece);
        let from = self.emitted;
        let hit = self.stops.iter().filter_map(|s| self.text[from..].find(s).map(|p| p + from)).min();
        if let Some(p) = hit {
            let out = self.text[from..p].to_string();
            self.text.truncate(p);
            self.emitted = p;
            self.stopped = true;
            return (out, true);
        }
        let mut hold = 0;
        for s in &self.stops {
            for (k, _) in s.char_indices().skip(1) {
                if k > hold && self.text.len() >= from + k && self.text.ends_with(&s[..k]) {
                    hold = k;
                }
            }
        }
        let end = self.text.len() - hold;
        let out = self.text[from..end].to_string();
        self.emitted = end;
        (out, false)
    }

    /// Ends the stream: returns what was held back (plus `rest`), stop strings applied.
    pub fn finish(&mut self, rest: &str) -> String {
        if self.stopped {
            return String::new();
        }
        let (mut out, stopped) = self.push(rest);
        if !stopped {
            out.push_str(&self.text[self.emitted..]);
            self.emitted = self.text.len();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut f = StopFilter::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let (e, stopped) = f.push(p);
            out.push_str(&e);
            if stopped {
                return (out, true);
            }
        }
        out.push_str(&f.finish(""));
        (out, false)
    }

    #[test]
    fn stop_string_across_pieces_is_not_emitted() {
        assert_eq!(run(&["\n\nQuestion:"], &["Paris", ".\n", "\nQues", "tion: next"]), ("Paris.".to_string(), true));
    }

    #[test]
    fn held_text_is_released_when_it_is_not_a_stop() {
        assert_eq!(run(&["END"], &["the E", "ND"]), ("the ".to_string(), true));
        assert_eq!(run(&["END"], &["the E", "nd"]), ("the End".to_string(), false));
        assert_eq!(run(&["END"], &["ends with E"]), ("ends with E".to_string(), false));
    }

    #[test]
    fn earliest_stop_wins() {
        assert_eq!(run(&["b", "a"], &["xxab"]), ("xx".to_string(), true));
    }

    #[test]
    fn unicode_stop_strings_hold_whole_chars() {
        assert_eq!(run(&["é!"], &["café", "!"]), ("caf".to_string(), true));
        assert_eq!(run(&["é!"], &["café", "?"]), ("café?".to_string(), false));
    }
}
