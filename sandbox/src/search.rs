//! BM25 ranking of help articles against a customer's message.

use std::collections::HashMap;

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Below this score an article is not an answer.
pub const MIN_SCORE: f64 = 0.5;

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for",
    "from", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on",
    "or", "our", "please", "so", "that", "the", "their", "there", "this", "to", "was", "we",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "hi",
    "hello", "hey",
];

/// Lower-cased words of letters and digits, stop words removed, stemmed
/// (Snowball English) so "refunds" meets "refund".
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(w: &str) -> String {
    use std::sync::OnceLock;
    static STEMMER: OnceLock<rust_stemmers::Stemmer> = OnceLock::new();
    STEMMER
        .get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English))
        .stem(w)
        .into_owned()
}

/// A document to rank: its id and its text (title + body).
#[derive(Debug, Clone)]
pub struct Document {
    /// Id.
    pub id: String,
    /// Searchable text.
    pub text: String,
}

/// The best document for `query` and its BM25 score, if any scores at least
/// [`MIN_SCORE`]. Ties go to the earlier document.
pub fn best_match(query: &str, docs: &[Document]) -> Option<(String, f64)> {
    let query: Vec<String> = tokens(query);
    if query.is_empty() || docs.is_empty() {
        return None;
    }
    let tokenised: Vec<Vec<String>> = docs.iter().map(|d| tokens(&d.text)).collect();
    let n = docs.len() as f64;
    let avg_len = tokenised.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let mut df: HashMap<&str, f64> = HashMap::new();
    for doc in &tokenised {
        let mut seen: Vec<&str> = doc.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_default() += 1.0;
        }
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, doc) in tokenised.iter().enumerate() {
        let len = doc.len() as f64;
        let mut score = 0.0;
        for term in &query {
            let tf = doc.iter().filter(|t| *t == term).count() as f64;
            if tf == 0.0 {
                continue;
            }
            let df = df.get(term.as_str()).copied().unwrap_or(0.0);
            // The "plus one" IDF keeps scores positive in tiny corpora.
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            score += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len.max(1.0)));
        }
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.filter(|(_, s)| *s >= MIN_SCORE)
        .and_then(|(i, s)| docs.get(i).map(|d| (d.id.clone(), s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<Document> {
        vec![
            Document {
                id: "returns".into(),
                text:
                    "Returning an item. You can return any item within 30 days for a full refund."
                        .into(),
            },
            Document {
                id: "shipping".into(),
                text: "Shipping times. Orders ship within 2 working days; delivery takes 3-5 days."
                    .into(),
            },
            Document {
                id: "password".into(),
                text: "Resetting your password. Use the forgot password link on the sign-in page."
                    .into(),
            },
        ]
    }

    #[test]
    fn ranks_the_relevant_article_first() {
        assert_eq!(
            best_match("How do I get a refund for an item?", &docs())
                .unwrap()
                .0,
            "returns"
        );
        assert_eq!(
            best_match("how long does delivery take", &docs())
                .unwrap()
                .0,
            "shipping"
        );
        assert_eq!(
            best_match("I forgot my password", &docs()).unwrap().0,
            "password"
        );
    }

    #[test]
    fn unrelated_questions_match_nothing() {
        assert_eq!(best_match("Do you sell gift cards to Mars?", &docs()), None);
        assert_eq!(best_match("the and of", &docs()), None);
        assert_eq!(best_match("refund", &[]), None);
    }
}
