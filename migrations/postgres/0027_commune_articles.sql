-- Issue 17: how a commune's name joins a sentence, the registry's `typeLiaison` (INSEE's « type
-- de nom en clair »: 0 de Paris, 1 d'Annecy, 2 du Havre, 3 de La Rochelle, 4 des Ulis,
-- 5 de L'Haÿ-les-Roses, 6 des (Aux), 7–8 de Las/Los). NULL until the next `communes import`;
-- pages then guess from the name (core/src/communes/names.rs).
ALTER TABLE communes ADD COLUMN name_kind BIGINT;
