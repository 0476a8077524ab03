//! Templates: `## template: jinja` configs rendered per node with minijinja (strict undefined)
//! and findings of the rendered config mapped back to template positions.
