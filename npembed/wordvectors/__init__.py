"""Word vectors learned from raw text, and what every set of word vectors offers.

- word2vec: ``Word2Vec``, skip-gram with negative sampling in gensim's conventions (its kernel is
  npembed.kernels.skipgram);
- pretrained: skip-gram vectors of the IMDB reviews, trained once and cached;
- projector: nearest neighbours and the Embedding Projector's files (vecs.tsv, meta.tsv);
- files: word2vec / GloVe text files, and an Embedding matrix from them;
- evaluation: analogies (3CosAdd) and word-pair similarity (Spearman).
"""
