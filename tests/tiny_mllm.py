"""Tiny random image-text-to-text models of every supported family, built from their configs and saved
with their processors (no download): a word-level vocabulary holding the family's special tokens and the
answer classes, a two-layer vision tower, a two-layer language model, and a chat template shaped like the
family's own. `save(family, folder, numbers)` writes one; each loads in well under a second."""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

WORDS = ("user assistant system how good is the technical quality of this image sharpness noise artefacts and "
         "exposure aesthetically pleasing composition colour light subject well does match its text answer with "
         "one integer from to worst best comes prompt tags caption a red square cat you are concise photo "
         "editor facts about my strongest weakest region mood fixes not seen in give sentences advice what "
         "works exactly change use only these point while improve it : ; ( ) . , ? \" / - ' !").split()
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=2, max_position_embeddings=1024)
TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)


def tokenizer(numbers: str, specials: list[str], **extra) -> PreTrainedTokenizerFast:
    """numbers: "integers" ("10".."50" are single tokens), "digits" (numbers split into digit tokens) or
    "none" (neither: numbers are unknown). extra: named special tokens the family's processor reads."""
    vocab = list(SPECIALS) + WORDS
    pre = [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    if numbers == "integers":
        vocab += [str(n) for n in range(10, 51)]
    elif numbers == "digits":
        vocab += [str(d) for d in range(10)]
        pre.append(pre_tokenizers.Digits(individual_digits=True))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(dict.fromkeys(vocab))}, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", extra_special_tokens=extra or None)
    fast.add_special_tokens({"additional_special_tokens": specials})
    return fast


def _ids(tok, **names) -> dict:
    return {k: tok.convert_tokens_to_ids(v) for k, v in names.items()}


def _text(tok, **kw) -> dict:
    return dict(TINY_TEXT, vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, **kw)


def _chat(image: str, user: str, end: str, assistant: str) -> str:
    """A chat template in a family's shape: the user turn's parts (the image as `image`), then the answer cue."""
    return ("{% for m in messages %}" + user + "{% for c in m['content'] %}{% if c['type'] == 'image' %}" + image +
            "{% else %}{{ c['text'] }}{% endif %}{% endfor %}" + end + "{% endfor %}" +
            "{% if add_generation_prompt %}" + assistant + "{% endif %}")


def _llava(folder, numbers):
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    tok = tokenizer(numbers, ["<image>"])
    config = LlavaConfig(vision_config=CLIPVisionConfig(image_size=32, patch_size=8, **TINY_VISION),
                         text_config=LlamaConfig(**_text(tok)), image_token_index=tok.convert_tokens_to_ids("<image>"),
                         image_seq_length=16, vision_feature_layer=-1, vision_feature_select_strategy="default")
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    # 16 patches + CLS, minus CLS under the "default" feature strategy: 16 image tokens per image.
    processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=8, num_additional_image_tokens=1,
                               vision_feature_select_strategy="default",
                               chat_template=_chat("<image>\n", "USER: ", "", " ASSISTANT:"))
    return LlavaForConditionalGeneration(config), processor


def _llava_onevision(folder, numbers):
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )
    tok = tokenizer(numbers, ["<image>", "<video>", "<|im_start|>", "<|im_end|>"])
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(image_size=32, patch_size=8, **TINY_VISION),
        text_config=Qwen2Config(**_text(tok)), image_grid_pinpoints=[[32, 32], [32, 64], [64, 32]],
        vision_feature_layer=-1, vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_1",
        **_ids(tok, image_token_index="<image>", video_token_index="<video>"))
    images = LlavaOnevisionImageProcessorPil(size={"height": 32, "width": 32},
                                             image_grid_pinpoints=[[32, 32], [32, 64], [64, 32]])
    processor = LlavaOnevisionProcessor(
        image_processor=images, tokenizer=tok, num_image_tokens=16, vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_1",
        chat_template=_chat("<image>\n", "<|im_start|>user ", "<|im_end|>", "<|im_start|>assistant\n"))
    return LlavaOnevisionForConditionalGeneration(config), processor


def _qwen2_5_vl(folder, numbers):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = tokenizer(numbers, specials)
    config = Qwen2_5_VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=4,
                           spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=32, window_size=16,
                           fullatt_block_indexes=[1]),
        text_config=_text(tok, rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                                                "rope_theta": 10000.0}),
        **_ids(tok, image_token_id="<|image_pad|>", video_token_id="<|video_pad|>",
               vision_start_token_id="<|vision_start|>", vision_end_token_id="<|vision_end|>"))
    # factor patch x merge = 8 px; 16-64 patches, i.e. 4-16 image tokens after the 2x2 merge
    images = Qwen2VLImageProcessorPil(patch_size=4, merge_size=2, temporal_patch_size=2, min_pixels=256,
                                      max_pixels=1024)
    processor = Qwen2_5_VLProcessor(  # no video processor: it needs torchvision, and images are all we send
        image_processor=images, tokenizer=tok,
        chat_template=_chat("<|vision_start|><|image_pad|><|vision_end|>", "<|im_start|>user\n", "<|im_end|>\n",
                            "<|im_start|>assistant\n"))
    return Qwen2_5_VLForConditionalGeneration(config), processor


def _idefics3(folder, numbers, smol: bool = False):
    import transformers as t
    names = ("SmolVLMConfig", "SmolVLMForConditionalGeneration", "SmolVLMImageProcessorPil", "SmolVLMProcessor") \
        if smol else ("Idefics3Config", "Idefics3ForConditionalGeneration", "Idefics3ImageProcessorPil",
                      "Idefics3Processor")
    Config, Model, Images, Processor = (getattr(t, n) for n in names)
    specials = ["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"] + \
        [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    tok = tokenizer(numbers, specials)
    config = Config(vision_config=dict(image_size=32, patch_size=8, **TINY_VISION), text_config=_text(tok),
                    scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    # One 32-px tile (no splitting): 16 patches, 4 image tokens after the 2x2 pixel shuffle.
    images = Images(size={"longest_edge": 32}, max_image_size={"longest_edge": 32}, do_image_splitting=False)
    processor = Processor(image_processor=images, tokenizer=tok, image_seq_len=4,
                          chat_template=_chat("<image>", "User:", "<end_of_utterance>\n", "Assistant:"))
    return Model(config), processor


def _internvl(folder, numbers):
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        Qwen2Config,
    )
    tok = tokenizer(numbers, ["<img>", "</img>", "<IMG_CONTEXT>", "<video>", "<|im_start|>", "<|im_end|>"],
                    start_image_token="<img>", end_image_token="</img>", context_image_token="<IMG_CONTEXT>",
                    video_token="<video>")
    config = InternVLConfig(vision_config=dict(image_size=[32, 32], patch_size=[8, 8], **TINY_VISION),
                            text_config=Qwen2Config(**_text(tok)), image_seq_length=4, downsample_ratio=0.5,
                            image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"))
    images = GotOcr2ImageProcessorPil(size={"height": 32, "width": 32}, crop_to_patches=False)
    processor = InternVLProcessor(image_processor=images, tokenizer=tok,
                                  image_seq_length=4,
                                  chat_template=_chat("<IMG_CONTEXT>\n", "<|im_start|>user\n", "<|im_end|>\n",
                                                      "<|im_start|>assistant\n"))
    return InternVLForConditionalGeneration(config), processor


BUILDERS = {"llava": _llava, "llava_onevision": _llava_onevision, "qwen2_5_vl": _qwen2_5_vl,
            "idefics3": _idefics3, "smolvlm": lambda f, n: _idefics3(f, n, smol=True), "internvl": _internvl}


def save(family: str, folder, numbers: str = "integers") -> None:
    torch.manual_seed(0)
    model, processor = BUILDERS[family](folder, numbers)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
