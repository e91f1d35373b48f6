"""The chapter's exercises (notes 7.9) as experiments, and what the Masking and Accumulation
views measure (notes 7.4.1-7.4.2, 7.5.1): built on the engine, never imported by it."""
