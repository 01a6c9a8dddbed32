//! The commune's name in a French sentence, by the host's own rules (`parvis-names`):
//! `req.commune.de()` is « d'Annecy », « du Havre », « des Ulis », « de Paris »;
//! `req.commune.a()` is « à Annecy », « au Havre », « aux Ulis ». Never write
//! `"de " + name`: « de Annecy » is wrong French.
//!
//! The host tells the registry's liaison type (`commune.name-kind`, since contract 0.2.1),
//! which alone tells « d'Hyères » (h muet) from « de Hautot »; where it has none (an event),
//! the article and the first letter decide, right for every name but those starting with an h
//! muet.

use crate::Commune;

/// The registry's liaison type of the call's commune, from the host.
#[cfg(target_arch = "wasm32")]
fn name_kind() -> Option<i64> {
    crate::bindings::parvis::module::commune::name_kind().map(i64::from)
}

/// Off wasm (unit tests) there is no host: the letters decide.
#[cfg(not(target_arch = "wasm32"))]
fn name_kind() -> Option<i64> {
    None
}

impl Commune {
    /// « de » and the name: « d'Annecy », « du Havre », « de La Rochelle », « des Ulis ».
    pub fn de(&self) -> String {
        parvis_names::of(&self.name, name_kind())
    }

    /// « à » and the name: « à Annecy », « au Havre », « à La Rochelle », « aux Ulis ».
    pub fn a(&self) -> String {
        parvis_names::at(&self.name, name_kind())
    }
}

#[cfg(test)]
mod tests {
    use crate::Commune;

    fn named(name: &str) -> Commune {
        Commune {
            name: name.to_owned(),
            slug: String::new(),
            population: 0,
        }
    }

    #[test]
    fn modules_write_the_name_as_the_host_does() {
        assert_eq!(named("Annecy").de(), "d'Annecy");
        assert_eq!(named("Le Havre").de(), "du Havre");
        assert_eq!(named("Le Havre").a(), "au Havre");
        assert_eq!(named("Les Ulis").de(), "des Ulis");
        assert_eq!(named("Les Ulis").a(), "aux Ulis");
        assert_eq!(named("La Rochelle").de(), "de La Rochelle");
        assert_eq!(named("Paris").a(), "à Paris");
    }
}
