-- Issue 17: a commune's own colour, the accent of its pages (links, buttons), chosen by its
-- admins within WCAG AA contrast (core/src/communes/identity.rs). On `tenants`, read with the
-- site on every request; NULL keeps the platform's blue.
ALTER TABLE tenants ADD COLUMN accent TEXT;
