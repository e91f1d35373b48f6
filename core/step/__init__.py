"""One optimizer step of the book's `train_seq2seq` (notes 7.5), opened up stage by stage.

The Step view runs one real step of a model on a batch of its own training pairs and shows
every number in between. Each stage of the notes has its module here:

- `batch`: the data and teacher forcing, `<bos>` + `Y[:, :-1]`, and the notes' table;
- `loss_parts`: the masked loss taken apart, and the number the Train curve prints;
- `backward`: the dense layer's gradient by hand (`Hᵀ · ∂L/∂Y_hat`), what autograd saved,
  every parameter's gradient norm, and the gradient reaching each time step's hidden state;
- `update`: clipping, Adam's update against the weights, the loss before and after;
- `scaling`: sum vs mean reduction on this batch and on one twice as large;
- `timing`: each stage's time (synchronised on CUDA) and what dominates;
- `session`: the step itself, in the book's order, and "step again" on the same batch.

Nothing here touches the model it was given: a step works on its own copy.
"""
