import AlignJSON

/// How the YAML files that `trl <command> --config FILE` takes are read by Align: TRL's
/// `ScriptArguments`, `ModelConfig` and `TrainingArguments` keys either mean an Align setting
/// (the same name, or a spelling of the same thing), say what to train and where (``runKeys``),
/// or mean nothing on Align's CPU path (``ignoredKeys``): each of those gets one warning, never
/// silence. Anything else is still an unknown key.
public enum TRLKeys {
    /// Keys naming the run's inputs and output, with the flag each stands for.
    public static let runKeys: [String: String] = [
        "model_name_or_path": "--model",
        "model_revision": "--model (as ID@REVISION)",
        "dataset_name": "--data",
        "dataset_train_split": "--split",
        "dataset_test_split": "--eval-split",
        "output_dir": "--output",
        "report_to": "--report-to",
    ]

    /// Keys Align accepts and ignores, with the reason printed in their warning.
    public static let ignoredKeys: [String: String] = {
        var keys: [String: String] = [:]
        let precision = "Align computes in float32 on the CPU"
        for k in ["bf16", "fp16", "tf32", "bf16_full_eval", "fp16_full_eval", "half_precision_backend", "torch_dtype", "dtype"] { keys[k] = precision }
        for k in ["gradient_checkpointing", "gradient_checkpointing_kwargs"] { keys[k] = "Align keeps only the activations backward needs; there is nothing to checkpoint" }
        for k in ["attn_implementation", "use_liger_kernel", "torch_compile", "torch_compile_backend", "torch_compile_mode", "padding_free", "use_logits_to_keep"] {
            keys[k] = "Align's fused CPU kernels are always used"
        }
        for k in ["deepspeed", "fsdp", "fsdp_config", "ddp_find_unused_parameters", "ddp_backend", "ddp_timeout", "local_rank",
                  "dataloader_num_workers", "dataloader_pin_memory", "dataloader_persistent_workers", "dataloader_prefetch_factor",
                  "dataloader_drop_last", "dataset_num_proc", "dataset_streaming", "group_by_length", "auto_find_batch_size"] {
            keys[k] = "it configures PyTorch's distributed or data-loading machinery, which Align does not use"
        }
        for k in ["push_to_hub", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo", "run_name", "logging_dir",
                  "logging_first_step", "logging_strategy", "disable_tqdm", "log_level", "overwrite_output_dir", "do_train", "do_eval",
                  "remove_unused_columns", "trust_remote_code", "save_safetensors", "save_only_model", "save_total_limit",
                  "load_best_model_at_end", "metric_for_best_model", "greater_is_better", "model_init_kwargs", "ref_model_init_kwargs",
                  "generate_during_eval", "dataset_config", "per_device_eval_batch_size", "eval_accumulation_steps", "ignore_data_skip"] {
            keys[k] = "Align has no such setting (it is about the Hub, logging front-ends or PyTorch's Trainer)"
        }
        for k in ["load_in_4bit", "load_in_8bit", "bnb_4bit_quant_type", "use_bnb_nested_quant", "bnb_4bit_compute_dtype"] {
            keys[k] = "Align does not quantise weights for training"
        }
        // lora_r, lora_alpha, lora_dropout, lora_target_modules, use_rslora, use_dora and use_peft are
        // every trainer's settings (AdapterConfiguration); these two are decided by the command.
        for k in ["lora_modules_to_save", "lora_task_type"] {
            keys[k] = "the command decides the task (a causal LM; `align reward` trains its score head beside the adapters)"
        }
        keys["eval_strategy"] = "Align evaluates every eval_steps when evaluation data is given"
        keys["evaluation_strategy"] = keys["eval_strategy"]
        keys["save_strategy"] = "Align checkpoints every save_steps"
        keys["env"] = "Align reads no environment settings from its config"
        return keys
    }()

    /// The optimiser names transformers uses for the algorithms Align implements.
    static let optimizerAliases: [String: String] = [
        "adamw_torch": "adamw", "adamw_torch_fused": "adamw", "adamw_hf": "adamw", "adamw_apex_fused": "adamw",
        "adamw_torch_xla": "adamw", "adamw_torch_npu_fused": "adamw", "sgd": "sgd", "rmsprop": "rmsprop",
    ]

    /// transformers' scheduler names for Align's schedules (Align's `constant` warms up when asked).
    static let schedulerAliases: [String: String] = ["constant_with_warmup": "constant"]

    /// A TRL spelling of a value, turned into Align's; nil when the value is already Align's.
    public static func alignValue(forKey key: String, _ value: JSONValue) -> JSONValue? {
        guard case .string(let s) = value else { return nil }
        switch key {
        case "optim": return optimizerAliases[s].map(JSONValue.string)
        case "lr_scheduler_type": return schedulerAliases[s].map(JSONValue.string)
        default: return nil
        }
    }
}
