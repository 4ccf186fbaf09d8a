"""LR-SQL (Wang et al., 2025, "LR-SQL: A Supervised Fine-Tuning Method for Text2SQL Tasks under
Low-Resource Scenarios"): a schema too large to train on whole is cut into slices
(`slicing`); a schema-link model walks them, carrying the tables found so far (`link`); an SQL
generator answers over the linked tables only. Each stage is fine-tuned on its own samples
(`data`), end to end in `run`, set by `config`."""
