"""Readers (CSV, Parquet), a party's schema and its validation, ID normalisation, categories,
datasets."""

from vfl.data.categories import CategoryMap
from vfl.data.ids import IdRule, normalise_ids
from vfl.data.problems import DataWarning
from vfl.data.readers import read_ids, read_party_table
from vfl.data.table import PartyTable

__all__ = [
    "CategoryMap",
    "DataWarning",
    "IdRule",
    "PartyTable",
    "normalise_ids",
    "read_ids",
    "read_party_table",
]
