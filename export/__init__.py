"""Labelled datasets out (jsonl, csv, parquet, Label Studio, Hugging Face) and Label Studio annotations
back in; pseudonyms and stratified splits for sharing them."""
