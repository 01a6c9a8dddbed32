//! A commune's name in a French sentence: « la mairie d'Annecy », « les abonnés du Havre »,
//! « à La Rochelle », « aux Ulis ».
//!
//! The registry's names carry their article (« Le Havre », « Les Ulis », « L'Haÿ-les-Roses »)
//! and its `typeLiaison` (INSEE's « type de nom en clair », TNCC) says how the name joins a
//! sentence, which the letters alone cannot tell (« d'Hyères » but « de Hautot », h muet or
//! aspiré). Without it (a name from elsewhere, or a module's request, which carries only the
//! name), the article and the first letter decide.
//!
//! [`typography`] puts the no-break spaces French wants before « : ; ? ! » and inside « ».

pub mod typography;

/// INSEE's TNCC: how a name joins « de » and « à ».
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No article, a consonant or an h aspiré: « de Paris », « à Paris ».
    Consonant,
    /// No article, a vowel or an h muet: « d'Annecy », « à Annecy ».
    Vowel,
    /// « Le »: « du Havre », « au Havre ».
    Le,
    /// « La »: « de La Rochelle », « à La Rochelle ».
    La,
    /// « Les »: « des Ulis », « aux Ulis ».
    Les,
    /// « L' »: « de L'Haÿ-les-Roses », « à L'Haÿ-les-Roses ».
    LApostrophe,
    /// « Aux »: « des », « aux », as « Les ».
    Aux,
    /// « Las » or « Los » (kept as they are): « de Las Illas », « à Los Masos ».
    Other,
}

impl Kind {
    fn of(name: &str, tncc: Option<i64>) -> Kind {
        match tncc {
            // A name that starts with an article keeps it, whatever the registry says: one
            // commune (« Le Vernet-Chaméane ») is typed as having none.
            Some(0 | 1) if Kind::guess(name).is_article() => Kind::guess(name),
            Some(0) => Kind::Consonant,
            Some(1) => Kind::Vowel,
            Some(2) => Kind::Le,
            Some(3) => Kind::La,
            Some(4) => Kind::Les,
            Some(5) => Kind::LApostrophe,
            Some(6) => Kind::Aux,
            Some(7 | 8) => Kind::Other,
            _ => Kind::guess(name),
        }
    }

    fn is_article(self) -> bool {
        !matches!(self, Kind::Consonant | Kind::Vowel)
    }

    /// From the letters alone: an h is taken as aspiré (« de Hautot »), the safer mistake.
    fn guess(name: &str) -> Kind {
        let starts = |article: &str| {
            name.get(..article.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(article))
        };
        if starts("Les ") {
            Kind::Les
        } else if starts("Le ") {
            Kind::Le
        } else if starts("La ") {
            Kind::La
        } else if starts("Aux ") {
            Kind::Aux
        } else if starts("L'") || name.starts_with("L’") {
            Kind::LApostrophe
        } else if name
            .chars()
            .next()
            .is_some_and(|c| "AEIOUYÂÄÀÉÈÊËÎÏÔÖÛÜÙŒaeiouyâäàéèêëîïôöûüùœ".contains(c))
        {
            Kind::Vowel
        } else {
            Kind::Consonant
        }
    }
}

/// The name without its first word (« Le Havre » → « Havre »).
fn after_article(name: &str) -> &str {
    name.split_once(' ').map_or(name, |(_, rest)| rest)
}

/// « de » and the name: « de Paris », « d'Annecy », « du Havre », « de La Rochelle »,
/// « des Ulis », « de L'Haÿ-les-Roses ». `tncc` is the registry's `typeLiaison`, if known.
pub fn of(name: &str, tncc: Option<i64>) -> String {
    match Kind::of(name, tncc) {
        Kind::Vowel => format!("d'{name}"),
        Kind::Le => format!("du {}", after_article(name)),
        Kind::Les | Kind::Aux => format!("des {}", after_article(name)),
        Kind::Consonant | Kind::La | Kind::LApostrophe | Kind::Other => format!("de {name}"),
    }
}

/// « à » and the name: « à Paris », « au Havre », « à La Rochelle », « aux Ulis ».
pub fn at(name: &str, tncc: Option<i64>) -> String {
    match Kind::of(name, tncc) {
        Kind::Le => format!("au {}", after_article(name)),
        Kind::Les | Kind::Aux => format!("aux {}", after_article(name)),
        _ => format!("à {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_sentences_as_in_french() {
        // (name, typeLiaison from the registry, « de », « à »)
        let cases = [
            ("Paris", Some(0), "de Paris", "à Paris"),
            ("Annecy", Some(1), "d'Annecy", "à Annecy"),
            ("Hyères", Some(1), "d'Hyères", "à Hyères"),
            (
                "Hautot-sur-Mer",
                Some(0),
                "de Hautot-sur-Mer",
                "à Hautot-sur-Mer",
            ),
            ("Le Havre", Some(2), "du Havre", "au Havre"),
            // Typed 0 (no article) in the registry, against its own name.
            (
                "Le Vernet-Chaméane",
                Some(0),
                "du Vernet-Chaméane",
                "au Vernet-Chaméane",
            ),
            ("La Rochelle", Some(3), "de La Rochelle", "à La Rochelle"),
            ("Les Ulis", Some(4), "des Ulis", "aux Ulis"),
            (
                "L'Haÿ-les-Roses",
                Some(5),
                "de L'Haÿ-les-Roses",
                "à L'Haÿ-les-Roses",
            ),
            ("Las Illas", Some(7), "de Las Illas", "à Las Illas"),
        ];
        for (name, tncc, de, a) in cases {
            assert_eq!(of(name, tncc), de);
            assert_eq!(at(name, tncc), a);
        }
    }

    #[test]
    fn without_the_registry_the_article_and_first_letter_decide() {
        assert_eq!(of("Annecy", None), "d'Annecy");
        assert_eq!(of("Le Havre", None), "du Havre");
        assert_eq!(at("Les Ulis", None), "aux Ulis");
        assert_eq!(
            of("L'Abergement-Clémenciat", None),
            "de L'Abergement-Clémenciat"
        );
        assert_eq!(of("Évry-Courcouronnes", None), "d'Évry-Courcouronnes");
        assert_eq!(of("Lesparre-Médoc", None), "de Lesparre-Médoc");
        assert_eq!(of("Hautot-sur-Mer", None), "de Hautot-sur-Mer");
        assert_eq!(of("", None), "de ");
    }
}
