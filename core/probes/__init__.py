"""What the Model, Masking and Accumulation views measure on a real model (notes 7.2-7.5.1): every
tensor's shape in a forward pass, the context vector and the decoder's state, the model's
diagram, a batch for the masked loss, gradient accumulation against one big batch. Built on the
engine, never imported by it; the chapter's exercises (7.9) are `core.exercises`."""
