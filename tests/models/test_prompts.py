from alignsql.data.example import Column, Example, ForeignKey, Schema, Table
from alignsql.models.prompts import ANSWER_PREFIX, PromptOptions, build, completion


def _schema() -> Schema:
    singer = Table("singer", [Column("id", "INTEGER", ["1", "2"]), Column("name", "TEXT", ["Ann", "Bob"])],
                   ["id"])
    concert = Table("concert", [Column("id", "INTEGER"), Column("singer_id", "INTEGER")], ["id"])
    stadium = Table("stadium", [Column("id", "INTEGER"), Column("capacity", "INTEGER")], ["id"])
    return Schema("cs", [singer, concert, stadium],
                  [ForeignKey("concert", "singer_id", "singer", "id")])


class WordTokenizer:
    """Counts whitespace-separated words: predictable budgets for the golden tests."""
    chat_template = None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


GOLDEN = """You are an expert in SQLite. Answer with one SQL query only.

Database schema:
CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);
/* values: id: 1, 2; name: Ann, Bob */
CREATE TABLE concert (id INTEGER PRIMARY KEY, singer_id INTEGER, FOREIGN KEY (singer_id) REFERENCES singer (id));
CREATE TABLE stadium (id INTEGER PRIMARY KEY, capacity INTEGER);

Evidence: a singer is a person
Question: How many singers?
Write one SQLite query that answers the question.

Answer:
```sql
"""


def test_golden_plain_layout() -> None:
    ex = Example("How many singers?", "SELECT count(*) FROM singer", "cs", evidence="a singer is a person")
    p = build(ex, _schema(), WordTokenizer(), PromptOptions())
    assert p.text == GOLDEN
    assert p.text.endswith(ANSWER_PREFIX) and not p.over_budget
    assert p.prefix and p.text.startswith(p.prefix) and "Question" not in p.prefix
    assert completion("SELECT 1;") == "SELECT 1\n```"


def test_budget_drops_values_then_least_relevant_tables() -> None:
    ex = Example("How many singers?", "", "cs")
    full = build(ex, _schema(), WordTokenizer(), PromptOptions()).n_tokens
    p = build(ex, _schema(), WordTokenizer(), PromptOptions(max_prompt_tokens=full - 1))
    assert p.dropped_samples and not p.dropped_tables and "values:" not in p.text
    p = build(ex, _schema(), WordTokenizer(), PromptOptions(max_prompt_tokens=full - 14))
    assert p.dropped_tables and "singer" in p.tables  # the relevant table survives
    assert all(stmt.count("(") == stmt.count(")") for stmt in p.text.split(";"))  # whole statements
    p = build(ex, _schema(), WordTokenizer(), PromptOptions(max_prompt_tokens=5))
    assert p.over_budget and p.tables == ["singer"]


def test_chat_template_is_used(tiny_model_dir) -> None:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    p = build(Example("How many?", "", "cs"), _schema(), tok, PromptOptions())
    assert p.text.startswith("<|im_start|>system\n") and p.text.endswith("assistant\n" + ANSWER_PREFIX)
