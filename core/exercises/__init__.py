"""The chapter's exercises (notes 7.9) as one-click experiments, what they measured and what their
numbers say: built on the engine, never imported by it. (What the Model, Masking and Accumulation
views measure lives in `core.probes`.)"""
