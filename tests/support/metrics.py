"""Reading a scrape of /metrics back: the samples by name and labels."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one scrape. `value` of one series (0 when absent), `total` of every
    series whose labels include the given ones."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [(sample.name, dict(sample.labels), sample.value)
                        for family in text_string_to_metric_families(text) for sample in family.samples]

    def total(self, name: str, **labels: str) -> float:
        return sum(value for sample_name, sample_labels, value in self.samples
                   if sample_name == name and labels.items() <= sample_labels.items())

    def value(self, name: str, **labels: str) -> float:
        matching = [value for sample_name, sample_labels, value in self.samples
                    if sample_name == name and sample_labels == labels]
        assert len(matching) <= 1, (name, labels, matching)
        return matching[0] if matching else 0.0

    def has(self, name: str, **labels: str) -> bool:
        return any(sample_name == name and sample_labels == labels for sample_name, sample_labels, _ in self.samples)

    def labelled(self, name: str, label: str) -> dict[str, float]:
        """{value of `label`: sample value} for the series of `name`."""
        return {sample_labels[label]: value for sample_name, sample_labels, value in self.samples
                if sample_name == name}


def difference(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.total(name, **labels) - before.total(name, **labels)
