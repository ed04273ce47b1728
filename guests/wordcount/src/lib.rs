//! Word counting: the kernel, shared by the guest and the native benchmark.

use std::collections::HashMap;

/// Counts lowercase ASCII-alphanumeric words (apostrophes inside words kept) in `text`, adding to `counts`.
pub fn count(text: &str, counts: &mut HashMap<String, u64>) {
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let word = word.trim_matches('\'');
        if word.is_empty() {
            continue;
        }
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
}

/// The `n` most frequent words, most frequent first, ties broken alphabetically (so the order is fixed).
pub fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(&str, u64)> {
    let mut all: Vec<(&str, u64)> = counts.iter().map(|(w, c)| (w.as_str(), *c)).collect();
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    all.truncate(n);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_orders() {
        let mut c = HashMap::new();
        count("The cat and the hat. THE end, isn't it?", &mut c);
        assert_eq!(top(&c, 3), vec![("the", 3), ("and", 1), ("cat", 1)]);
        assert_eq!(c["isn't"], 1);
    }
}
