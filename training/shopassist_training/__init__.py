"""shopassist training pipeline: tokenizer, vocabulary, intent model, export."""
