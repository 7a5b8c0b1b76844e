#!/usr/bin/python3
"""Builds the tiny text fixture models in models/tiny-chat and models/tiny-moderation.

    /usr/bin/python3 scripts/build-text-models.py [outDir]

Needs Debian's python3-torch and python3-onnx (apt-get install -y python3-torch python3-onnx;
run with /usr/bin/python3, not a pyenv python). Writes onnx-community style folders that
@huggingface/transformers reads, plus a Silk manifest.json each:

  tiny-chat/        2-layer LLaMA-style decoder (hidden 64, 4 heads, 2 kv heads), KV cache in/out,
                    byte-level BPE tokenizer with a ChatML chat_template
  tiny-moderation/  2-layer BERT multi-label classifier (toxic, spam, ok), same BPE vocabulary
                    with [CLS] ... [SEP] framing

Weights come from fixed seeds and the tokenizer is trained deterministically on the corpus below,
so the JSON files are identical on every run. The .onnx bytes depend on the torch build that
exports them (torch 1.13 from Debian wrote the committed ones): rerunning on another build may
change the bytes and so the model hash. The manifests' per-file hashes and their sha256 (the
bundle digest, protocol/bundle.ts, over every file) are always recomputed from the files written
here, so a rebuilt folder is self-consistent; commit the whole folder together.
"""
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter

import onnx
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 14

# ---------------------------------------------------------------- tokenizer

CORPUS = """
Silk is a decentralized inference network. Providers run models on their own machines and clients
pay them per job through payment channels on TON. Every result comes with a signed receipt that
names the model hash, the input hash and the output hash, so anyone can check what was run.
The quick brown fox jumps over the lazy dog. A small model can still answer a question, write a
short story, summarize a paragraph or classify a message as toxic, spam or ok. Hello! How are you
today? I am fine, thank you. What is the weather like? It is sunny and warm, with a light wind.
Please help me write an email to my team about the meeting on Monday at 10:00.
The user asked the assistant to explain how tokens are counted and how much each one costs.
You are a helpful assistant. Answer briefly and clearly. Do not share private keys or passwords.
Buy now!!! Free money, click this link to win a prize. You are stupid and I hate you.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14 -1. Symbols: ( ) [ ] { } < > = + - * / % & | ! ? , . ; : ' " _ @ #
system user assistant message content role
"""

CHAT_SPECIALS = ['<|im_start|>', '<|im_end|>', '<|pad|>']
BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
NUM_MERGES = 180

# GPT-2 style pre-tokenization (ASCII approximation of the \p{L}/\p{N} pattern; only used to
# choose merges, the runtime uses the ByteLevel pre-tokenizer declared in tokenizer.json).
PRETOKEN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """The GPT-2 byte to printable-character table that ByteLevel pre-tokenizers use."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def train_bpe():
    """Byte-level BPE: 256 byte symbols, then NUM_MERGES merges, ties broken by the pair itself."""
    table = bytes_to_unicode()
    alphabet = [table[b] for b in range(256)]
    words = Counter()
    text = CORPUS + '\n<|im_start|>system\n<|im_start|>user\n<|im_start|>assistant\n'
    for piece in PRETOKEN.findall(text):
        words[tuple(table[b] for b in piece.encode('utf-8'))] += 1
    merges = []
    vocab = list(alphabet)
    for _ in range(NUM_MERGES):
        pairs = Counter()
        for word, count in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        vocab.append(merged)
        updated = Counter()
        for word, count in words.items():
            out = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            updated[tuple(out)] += count
        words = updated
    return vocab, merges


def added_token(content, id_):
    return {'id': id_, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False,
            'normalized': False, 'special': True}


def tokenizer_json(vocab, merges, specials, post_processor):
    ids = {tok: i for i, tok in enumerate(vocab)}
    added = []
    for s in specials:
        ids[s] = len(ids)
        added.append(added_token(s, ids[s]))
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': added,
        'normalizer': None,
        'pre_tokenizer': byte_level,
        'post_processor': post_processor(ids),
        'decoder': byte_level,
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None,
            'end_of_word_suffix': None, 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
            'vocab': ids,
            'merges': [f'{a} {b}' for a, b in merges],
        },
    }, ids


def bert_post_processor(ids):
    def special(name):
        return {'SpecialToken': {'id': name, 'type_id': 0}}
    return {
        'type': 'TemplateProcessing',
        'single': [special('[CLS]'), {'Sequence': {'id': 'A', 'type_id': 0}}, special('[SEP]')],
        'pair': [special('[CLS]'), {'Sequence': {'id': 'A', 'type_id': 0}}, special('[SEP]'),
                 {'Sequence': {'id': 'B', 'type_id': 1}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 1}}],
        'special_tokens': {name: {'id': name, 'ids': [ids[name]], 'tokens': [name]} for name in ('[CLS]', '[SEP]')},
    }


CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# ---------------------------------------------------------------- LLaMA-style decoder

CHAT = dict(hidden=64, heads=4, kv_heads=2, layers=2, intermediate=128, max_positions=512, rope_theta=10000.0, eps=1e-5)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv_heads = c['hidden'], c['heads'], c['kv_heads']
        self.head_dim = h // self.heads
        self.input_layernorm = RMSNorm(h, c['eps'])
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, c['eps'])
        self.gate_proj = nn.Linear(h, c['intermediate'], bias=False)
        self.up_proj = nn.Linear(h, c['intermediate'], bias=False)
        self.down_proj = nn.Linear(c['intermediate'], h, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        b, s = x.shape[0], x.shape[1]
        hd = self.head_dim
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(b, s, self.heads, hd).transpose(1, 2)
        k = self.k_proj(y).view(b, s, self.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(y).view(b, s, self.kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        rep = self.heads // self.kv_heads
        total = k.shape[2]
        kr = k.unsqueeze(2).expand(b, self.kv_heads, rep, total, hd).reshape(b, self.heads, total, hd)
        vr = v.unsqueeze(2).expand(b, self.kv_heads, rep, total, hd).reshape(b, self.heads, total, hd)
        att = torch.matmul(q, kr.transpose(-1, -2)) / math.sqrt(hd) + mask
        att = torch.softmax(att, dim=-1)
        o = torch.matmul(att, vr).transpose(1, 2).reshape(b, s, self.heads * hd)
        x = x + self.o_proj(o)
        y = self.post_attention_layernorm(x)
        x = x + self.down_proj(nn.functional.silu(self.gate_proj(y)) * self.up_proj(y))
        return x, k, v


class TinyLlama(nn.Module):
    def __init__(self, c, vocab_size):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, c['hidden'])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c['layers'])])
        self.norm = RMSNorm(c['hidden'], c['eps'])
        self.lm_head = nn.Linear(c['hidden'], vocab_size, bias=False)
        hd = c['hidden'] // c['heads']
        self.register_buffer('inv_freq', 1.0 / (c['rope_theta'] ** (torch.arange(0, hd, 2).float() / hd)), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        x = self.embed_tokens(input_ids)
        freqs = position_ids.unsqueeze(-1).float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)
        cos, sin = emb.cos(), emb.sin()
        # Causal by position: key positions are the running count of attended slots, so the same
        # rule works with left padding; masked slots get a large negative bias (no -inf, no NaN).
        key_pos = torch.cumsum(attention_mask, dim=1) - 1
        allowed = (key_pos.unsqueeze(1).unsqueeze(1) <= position_ids.unsqueeze(1).unsqueeze(-1)) & (attention_mask.unsqueeze(1).unsqueeze(1) > 0)
        mask = (1.0 - allowed.float()) * -1e9
        presents = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cos, sin, mask, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        return (self.lm_head(self.norm(x)), *presents)


# ---------------------------------------------------------------- BERT classifier

BERT = dict(hidden=64, heads=4, layers=2, intermediate=128, max_positions=512, type_vocab=2, eps=1e-12)
LABELS = ['toxic', 'spam', 'ok']


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c['hidden']
        self.heads = c['heads']
        self.head_dim = h // self.heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.attn_norm = nn.LayerNorm(h, eps=c['eps'])
        self.intermediate = nn.Linear(h, c['intermediate'])
        self.output = nn.Linear(c['intermediate'], h)
        self.out_norm = nn.LayerNorm(h, eps=c['eps'])

    def forward(self, x, mask):
        b, s = x.shape[0], x.shape[1]
        hd = self.head_dim
        h = self.heads * hd

        def split(t):
            return t.view(b, s, self.heads, hd).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + mask, dim=-1)
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, s, h)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.out_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class TinyBert(nn.Module):
    def __init__(self, c, vocab_size, num_labels):
        super().__init__()
        h = c['hidden']
        self.word_embeddings = nn.Embedding(vocab_size, h)
        self.position_embeddings = nn.Embedding(c['max_positions'], h)
        self.token_type_embeddings = nn.Embedding(c['type_vocab'], h)
        self.emb_norm = nn.LayerNorm(h, eps=c['eps'])
        self.layers = nn.ModuleList([BertLayer(c) for _ in range(c['layers'])])
        self.pooler = nn.Linear(h, h)
        self.classifier = nn.Linear(h, num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        x = self.emb_norm(x)
        mask = (1.0 - attention_mask.unsqueeze(1).unsqueeze(1).float()) * -1e9
        for layer in self.layers:
            x = layer(x, mask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(pooled)


# ---------------------------------------------------------------- helpers

def init_weights(model, seed, std):
    """Normal(0, std) matrices and embeddings, zero biases, unit norms: fixed by the seed."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith('bias'):
                p.zero_()
            elif p.dim() == 1:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * std)


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write('\n')


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def export(model, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.producer_name = 'silk-build-text-models'
    m.producer_version = f'torch-{torch.__version__}'
    m.doc_string = ''
    onnx.save(m, path)


BUNDLE_VERSION = 'silk-bundle-v1'


def bundle_digest(task, graph, files):
    """The model hash, as protocol/bundle.ts defines it (text models declare no tensors)."""
    canonical = json.dumps([BUNDLE_VERSION, task, graph, [], [], [[p, files[p]] for p in sorted(files)]],
                           separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


def manifest(folder, name, task, unit, price, assets, extra):
    graph = 'onnx/model.onnx'
    files = {a: sha256(os.path.join(folder, a)) for a in sorted([graph, *assets])}
    m = {
        'name': name,
        'task': task,
        'file': graph,
        'files': files,
        'sha256': bundle_digest(task, graph, files),
        'pricePerUnit': price,
        'unit': unit,
        'deterministic': True,
        **extra,
    }
    write_json(os.path.join(folder, 'manifest.json'), m)
    return m


# ---------------------------------------------------------------- builds

def build_chat(out, vocab, merges):
    folder = os.path.join(out, 'tiny-chat')
    os.makedirs(folder, exist_ok=True)
    tok, ids = tokenizer_json(vocab, merges, CHAT_SPECIALS, lambda ids: {
        'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': True})
    write_json(os.path.join(folder, 'tokenizer.json'), tok)
    start, end, pad = (ids[s] for s in CHAT_SPECIALS)
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'added_tokens_decoder': {str(ids[s]): {k: v for k, v in added_token(s, ids[s]).items() if k != 'id'} for s in CHAT_SPECIALS},
        'bos_token': None,
        'eos_token': '<|im_end|>',
        'pad_token': '<|pad|>',
        'unk_token': None,
        'add_bos_token': False,
        'add_eos_token': False,
        'clean_up_tokenization_spaces': False,
        'model_max_length': CHAT['max_positions'],
        'chat_template': CHAT_TEMPLATE,
    })
    vocab_size = len(ids)
    c = CHAT
    head_dim = c['hidden'] // c['heads']
    write_json(os.path.join(folder, 'config.json'), {
        'architectures': ['LlamaForCausalLM'],
        'model_type': 'llama',
        'vocab_size': vocab_size,
        'hidden_size': c['hidden'],
        'intermediate_size': c['intermediate'],
        'num_hidden_layers': c['layers'],
        'num_attention_heads': c['heads'],
        'num_key_value_heads': c['kv_heads'],
        'head_dim': head_dim,
        'hidden_act': 'silu',
        'max_position_embeddings': c['max_positions'],
        'rms_norm_eps': c['eps'],
        'rope_theta': c['rope_theta'],
        'attention_bias': False,
        'tie_word_embeddings': False,
        'bos_token_id': start,
        'eos_token_id': end,
        'pad_token_id': pad,
        'torch_dtype': 'float32',
    })
    write_json(os.path.join(folder, 'generation_config.json'), {
        'bos_token_id': start,
        'eos_token_id': end,
        'pad_token_id': pad,
        'do_sample': False,
    })

    torch.manual_seed(0x5111c)
    model = TinyLlama(c, vocab_size)
    init_weights(model, 0x5111c, 0.3)
    b, s, past = 1, 3, 2
    args = [torch.randint(0, vocab_size, (b, s)), torch.ones(b, past + s, dtype=torch.int64),
            torch.arange(past, past + s).unsqueeze(0)]
    inputs = ['input_ids', 'attention_mask', 'position_ids']
    outputs = ['logits']
    axes = {'input_ids': {0: 'batch_size', 1: 'sequence_length'},
            'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
            'position_ids': {0: 'batch_size', 1: 'sequence_length'},
            'logits': {0: 'batch_size', 1: 'sequence_length'}}
    for i in range(c['layers']):
        for kind in ('key', 'value'):
            args.append(torch.randn(b, c['kv_heads'], past, head_dim))
            inputs.append(f'past_key_values.{i}.{kind}')
            outputs.append(f'present.{i}.{kind}')
            axes[f'past_key_values.{i}.{kind}'] = {0: 'batch_size', 2: 'past_sequence_length'}
            axes[f'present.{i}.{kind}'] = {0: 'batch_size', 2: 'total_sequence_length'}
    export(model, tuple(args), os.path.join(folder, 'onnx', 'model.onnx'), inputs, outputs, axes)
    return manifest(folder, 'tiny-chat', 'text-generation', 'token', '1000',
                    ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'],
                    {'maxNewTokens': 256, 'maxInputBytes': 8192, 'maxMessages': 32})


def build_moderation(out, vocab, merges):
    folder = os.path.join(out, 'tiny-moderation')
    os.makedirs(folder, exist_ok=True)
    tok, ids = tokenizer_json(vocab, merges, BERT_SPECIALS, bert_post_processor)
    write_json(os.path.join(folder, 'tokenizer.json'), tok)
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'added_tokens_decoder': {str(ids[s]): {k: v for k, v in added_token(s, ids[s]).items() if k != 'id'} for s in BERT_SPECIALS},
        'pad_token': '[PAD]',
        'unk_token': '[UNK]',
        'cls_token': '[CLS]',
        'sep_token': '[SEP]',
        'mask_token': '[MASK]',
        'clean_up_tokenization_spaces': False,
        'model_max_length': BERT['max_positions'],
    })
    vocab_size = len(ids)
    c = BERT
    write_json(os.path.join(folder, 'config.json'), {
        'architectures': ['BertForSequenceClassification'],
        'model_type': 'bert',
        'problem_type': 'multi_label_classification',
        'vocab_size': vocab_size,
        'hidden_size': c['hidden'],
        'intermediate_size': c['intermediate'],
        'num_hidden_layers': c['layers'],
        'num_attention_heads': c['heads'],
        'hidden_act': 'gelu',
        'max_position_embeddings': c['max_positions'],
        'type_vocab_size': c['type_vocab'],
        'layer_norm_eps': c['eps'],
        'pad_token_id': ids['[PAD]'],
        'id2label': {str(i): label for i, label in enumerate(LABELS)},
        'label2id': {label: i for i, label in enumerate(LABELS)},
        'torch_dtype': 'float32',
    })
    torch.manual_seed(0xb1e55)
    model = TinyBert(c, vocab_size, len(LABELS))
    init_weights(model, 0xb1e55, 0.2)
    b, s = 2, 5
    args = (torch.randint(0, vocab_size, (b, s)), torch.ones(b, s, dtype=torch.int64), torch.zeros(b, s, dtype=torch.int64))
    axes = {name: {0: 'batch_size', 1: 'sequence_length'} for name in ('input_ids', 'attention_mask', 'token_type_ids')}
    axes['logits'] = {0: 'batch_size'}
    export(model, args, os.path.join(folder, 'onnx', 'model.onnx'),
           ['input_ids', 'attention_mask', 'token_type_ids'], ['logits'], axes)
    return manifest(folder, 'tiny-moderation', 'text-classification', 'call', '20000',
                    ['config.json', 'tokenizer.json', 'tokenizer_config.json'],
                    {'maxTexts': 32, 'maxTextBytes': 2048})


def main():
    out = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, 'models')
    torch.set_num_threads(1)
    vocab, merges = train_bpe()
    for m in (build_chat(out, vocab, merges), build_moderation(out, vocab, merges)):
        folder = os.path.join(out, m['name'])
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
        print(f"{folder}  {size} bytes  sha256 {m['sha256']}  ({m['task']}, torch {torch.__version__})")


if __name__ == '__main__':
    main()
