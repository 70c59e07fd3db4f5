"""One training step of TecoGAN / FRVSR, with the original's update rules, under any tf.distribute.

What one step does (reference 5.3 and 5.4), with the "clean" semantics of the fixture:

1. one forward pass (``TecoModel.forward``) at the current weights;
2. all gradients from that pass: D loss -> D, generator loss -> generator, generator loss +
   ``warp_scaling`` * warp loss -> FNet (the original read weights that Adam was changing in the
   same ``session.run``; we do not reproduce that race);
3. if ``--ratio`` > 0 and the EMA of ``t_balance`` (decay 0.99, no debiasing, value *before* this
   step) is below ``--Dbalance``: the D Adam step and ``withD_counter`` + 1, else
   ``w_o_D_counter`` + 1; the ``t_balance`` EMA is updated in both cases;
4. the generator and FNet Adam steps, the EMAs of all logged values, ``global_step`` + 1, and the
   BatchNorm moving statistics (never used by the original's forward pass, kept for its checkpoint).

Adam is TF1's ``AdamOptimizer`` (the ``ApplyAdam`` kernel: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t),
var -= lr_t * m / (sqrt(v) + eps)) with its slots and beta powers as checkpointable variables. The
learning rate is ``exponential_decay(learning_rate, global_step, decay_step, decay_rate, stair)``.

With ``--ema_decay`` > 0 (ours; off by default, as in BasicSR and Real-ESRGAN) a
:class:`WeightAverage` of the generator and FNet weights follows every applied step.

A step whose losses are not all finite changes nothing (no update, no counter) and reports it, so
the trainer can stop with the last good weights.

Distribution: the step runs ``strategy.run`` on per-replica batches; each replica scales its loss
terms by 1 / num_replicas, gradients and logged values are all-reduced (sum), the D BatchNorm uses
synchronised statistics, and the D-balance decision is taken once, in cross-replica context, from
the mirrored EMA. The result equals the single-device step on the same global batch.
"""
import tensorflow as tf

from lib.train.teco_model import TecoModel, loss_names, vgg_phase
from lib.train import losses as L

EMA_DECAY = 0.99
ADAM_BETA2 = 0.999


def _strategy():
    return tf.distribute.get_strategy()


def per_device(fn, *values):
    """Call ``fn`` on each local device's components of ``values`` (cross-replica context).

    Mirrored variables and per-replica values are split into their local components; plain
    tensors are passed to every call. All copies of a mirrored variable get the same update, as
    ``strategy.extended.update`` would do.
    """
    strategy = _strategy()
    parts = [strategy.experimental_local_results(v) for v in values]
    count = max(len(p) for p in parts)
    ops = []
    for i in range(count):
        args = [p[i] if len(p) == count else p[0] for p in parts]
        with tf.device(args[0].device):
            ops.append(fn(*args))
    return tf.group(ops)


def _assign_fn(variable, fn):
    return per_device(lambda v: v.assign(fn(v)), variable)


def ema_update(shadow, value, updates=1):
    """TF1 ``assign_moving_average(zero_debias=False)``: shadow -= (shadow - value) * (1 - decay).

    ``updates=2`` is the original's double update of one shadow: when the generator loss *is* the
    content loss (FRVSR: no VGG, no ping-pong, no D), ``ExponentialMovingAverage.apply`` got the
    same tensor twice and both update ops subtracted a delta computed from the same old value
    (the fixture records 0.02 * value after one step, not 0.01 or 0.0199).
    """
    decay = tf.constant(EMA_DECAY, tf.float32)
    delta = (shadow - value) * (1.0 - decay)
    for _ in range(updates):
        shadow = shadow - delta
    return shadow


def shared_ema_names(config):
    """Logged names whose EMA shadow the original updated twice per step (see ema_update)."""
    if (config.gan or config.use_vgg or (config.pingpang and config.pp_scaling > 0)
            or config.phase_loss > 0 or config.temporal_loss > 0):
        return ()
    return ("l2_content_loss", "All_loss_Gen")


class TF1Adam(tf.Module):
    """``tf.compat.v1.train.AdamOptimizer`` for a fixed variable list, exact and checkpointable."""

    def __init__(self, variables, beta1=0.9, epsilon=1e-8, beta2=ADAM_BETA2, name="adam",
                 lr_scales=None):
        super().__init__(name=name)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self._targets = list(variables)
        # a learning-rate factor per variable (--upsampling_lr_scale); 1.0 leaves the op as TF1's
        self._lr_scales = [1.0] * len(self._targets) if lr_scales is None else list(lr_scales)
        with tf.name_scope(name):
            self.m = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="Adam")
                      for v in self._targets]
            self.v = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="Adam_1")
                      for v in self._targets]
            # TF1 keeps beta1^t and beta2^t as variables, starting at beta1 and beta2.
            self.beta1_power = tf.Variable(self.beta1, dtype=tf.float32, trainable=False,
                                           name="beta1_power")
            self.beta2_power = tf.Variable(self.beta2, dtype=tf.float32, trainable=False,
                                           name="beta2_power")

    def apply(self, grads, lr):
        """One ApplyAdam on every variable, then beta powers *= beta (cross-replica context)."""
        def apply_one(var, m, v, b1p, b2p, grad, lr):
            return tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle, beta1_power=b1p.read_value(),
                beta2_power=b2p.read_value(), lr=lr,
                beta1=tf.constant(self.beta1, tf.float32),
                beta2=tf.constant(self.beta2, tf.float32),
                epsilon=tf.constant(self.epsilon, tf.float32), grad=grad, use_locking=False,
                use_nesterov=False)

        ops = []
        for var, m, v, grad, scale in zip(self._targets, self.m, self.v, grads,
                                          self._lr_scales):
            rate = lr if scale == 1.0 else lr * tf.constant(scale, tf.float32)
            ops.append(per_device(apply_one, var, m, v, self.beta1_power, self.beta2_power,
                                  grad, rate))
        with tf.control_dependencies(ops):
            _assign_fn(self.beta1_power, lambda p: p * self.beta1)
            _assign_fn(self.beta2_power, lambda p: p * self.beta2)


class WeightAverage(tf.Module):
    """Exponential moving average of the generator and FNet weights (``--ema_decay``).

    ``shadow -= (shadow - weight) * (1 - decay)`` after each applied step; the first update copies
    the weights, so the average starts from what training starts from (a fresh run, a
    ``--pre_trained_model`` or a run that had no average). Checkpointed with the training state;
    :meth:`official_variables` gives the averaged weights under the official names
    (``model_ema-<step>`` in the run folder).
    """

    def __init__(self, model, decay, name="weight_average"):
        super().__init__(name=name)
        self.decay = float(decay)
        named = {**model.generator.official_variables(), **model.fnet.official_variables()}
        self.names, self._targets = list(named), list(named.values())
        with tf.name_scope(name):
            self.shadows = [tf.Variable(v.read_value(), trainable=False, name="shadow")
                            for v in self._targets]
            self.started = tf.Variable(False, trainable=False, name="started")

    def update(self):
        """One averaging step (cross-replica context), after the Adam updates."""
        keep = tf.where(self.started.read_value(), tf.constant(self.decay, tf.float32),
                        tf.constant(0.0, tf.float32))
        ops = [per_device(lambda s, v, k: s.assign(s - (s - v) * (1.0 - k)), shadow, var, keep)
               for shadow, var in zip(self.shadows, self._targets)]
        with tf.control_dependencies(ops):
            _assign_fn(self.started, lambda _: tf.constant(True))

    def official_variables(self):
        return dict(zip(self.names, self.shadows))


# The generator's upsampling: the two stride-2 transposed convolutions and the output convolution
UPSAMPLING_SCOPES = ("/conv_tran2highres/", "/output_stage/")


def upsampling_lr_scales(model):
    """Learning-rate factors of the generator's variables: ``--upsampling_lr_scale`` on the
    upsampling layers, 1 elsewhere.

    Why: each tap of a stride-2 transposed convolution feeds fixed output pixel phases, and Adam
    moves every tap by about the learning rate whatever its gradient's size, so a small but
    consistent phase preference of the loss (the perceptual term's, benchmarks/grid_gradients.py)
    turns into a 4-pixel grid there. Measured after 250 GAN steps at 1e-4: the validation grid
    was 0.90 grey levels; the same weights with these 6 tensors (and FNet's output stage) put
    back to the start model's gave 0.27 (and higher PSNR); with the residual blocks put back
    instead, 0.66.
    """
    scale = float(model.config.upsampling_lr_scale)
    return [scale if any(s in name for s in UPSAMPLING_SCOPES) else 1.0
            for name in model.generator.official_variables()]


class TrainState(tf.Module):
    """Everything a resumed run needs besides the networks: optimisers, counters, EMAs, data."""

    def __init__(self, model, name="train_state"):
        super().__init__(name=name)
        cfg = model.config
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
        self.opt_generator = TF1Adam(model.generator_variables(), cfg.beta, cfg.adameps,
                                     name="generator_train",
                                     lr_scales=upsampling_lr_scales(model))
        self.opt_fnet = TF1Adam(model.fnet_variables(), cfg.beta, cfg.adameps, name="fnet_train")
        self.opt_discriminator = None
        if cfg.gan:
            self.opt_discriminator = TF1Adam(model.discriminator_variables(), cfg.beta,
                                             cfg.adameps, name="t_discriminator_train")
        self.with_d_counter = tf.Variable(0, dtype=tf.int32, trainable=False,
                                          name="gen_train_with_D_counter")
        self.without_d_counter = tf.Variable(0, dtype=tf.int32, trainable=False,
                                             name="gen_train_wo_D_counter")
        self.t_balance_ema = tf.Variable(0.0, trainable=False, name="t_balance")
        self.loss_ema = {name: tf.Variable(0.0, trainable=False, name=name)
                         for name in loss_names(cfg)}


def learning_rate(config, global_step):
    """TF1 ``exponential_decay`` in float32."""
    step = tf.cast(global_step, tf.float32)
    p = step / tf.constant(float(config.decay_step), tf.float32)
    if config.stair:
        p = tf.floor(p)
    return tf.constant(config.learning_rate, tf.float32) * tf.pow(
        tf.constant(config.decay_rate, tf.float32), p)


class TecoTrainStep:
    """Builds the compiled train and evaluation steps for ``model`` and ``state``.

    ``train(r_inputs, r_targets)`` and ``evaluate(r_inputs, r_targets)`` take per-replica values
    (from a distributed dataset) or plain tensors (single device / default strategy).
    """

    def __init__(self, model, state, strategy=None, weight_average=None):
        self.model, self.state, self.weight_average = model, state, weight_average
        self.config = model.config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.names = loss_names(self.config)
        self.train = tf.function(self._scoped(self._train))
        self.train_discriminator = tf.function(self._scoped(self._train_discriminator))
        self.evaluate = tf.function(self._scoped(self._evaluate))
        self.evaluate_images = tf.function(self._scoped(self._evaluate_images))

    def _scoped(self, fn):
        def wrapper(*args):
            with self.strategy.scope():
                return fn(*args)
        return wrapper

    # -- replica side ---------------------------------------------------------------------------
    def _replica_train(self, r_inputs, r_targets, lr, dt, vgg_offset=None):
        cfg, model = self.config, self.model
        ctx = tf.distribute.get_replica_context()
        scale = 1.0 / ctx.num_replicas_in_sync
        g_vars, f_vars = model.generator_variables(), model.fnet_variables()
        d_vars = model.discriminator_variables()
        with tf.GradientTape(persistent=True) as tape:
            values, totals, extras = model.forward(r_inputs, r_targets, dt,
                                                   vgg_offset=vgg_offset)
            gen_loss = totals["gen_loss"] * scale
            warp_loss = totals["warp_loss"] * (cfg.warp_scaling * scale)
            d_loss = totals["d_loss"] * scale if cfg.gan else None
        # fnet loss = generator loss + warp_scaling * warp loss. FNet reaches both only through
        # its flow, so (as TF1's tf.gradients of the fnet loss did) the two gradients are summed
        # at the flow and FNet is back-propagated once: one pass from the generator loss to the
        # generator and the flow, a cheap one from the warp loss to the flow, one through FNet.
        flow = extras["gen_flow_lr"]
        grads = tape.gradient(gen_loss, g_vars + [flow])
        g_grads, flow_grad = grads[:len(g_vars)], tape.gradient(warp_loss, flow)
        if grads[-1] is not None:   # None only for a one-frame sequence
            flow_grad = grads[-1] + flow_grad
        f_grads = tape.gradient(flow, f_vars, output_gradients=flow_grad)
        d_grads = tape.gradient(d_loss, d_vars) if cfg.gan else []
        del tape
        scalars = [values[n] * scale for n in self.names]
        # 1 when every replica's flows were finite (a NaN flow is zeroed before the warp)
        scalars.append(tf.cast(totals["flows_finite"], tf.float32) * scale)
        if cfg.gan:
            scalars.append(totals["t_balance"] * scale)
        reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, scalars + g_grads + f_grads + d_grads)
        n_s, n_g, n_f = len(scalars), len(g_grads), len(f_grads)
        out = {"scalars": reduced[:n_s], "g": reduced[n_s:n_s + n_g],
               "f": reduced[n_s + n_g:n_s + n_g + n_f], "d": reduced[n_s + n_g + n_f:]}
        if cfg.gan:
            # Batch statistics are global already (synchronised BatchNorm); stats per BN layer:
            # [(real mean, real var), (fake mean, fake var)].
            out["bn"] = [[list(real), list(fake)] for real, fake in extras["bn_stats"]]
        return out

    def _replica_train_discriminator(self, r_inputs, r_targets):
        ctx = tf.distribute.get_replica_context()
        scale = 1.0 / ctx.num_replicas_in_sync
        d_vars = self.model.discriminator_variables()
        with tf.GradientTape() as tape:
            d_loss, t_balance, bn_stats, flows_finite = self.model.discriminator_forward(
                r_inputs, r_targets)
            d_loss = d_loss * scale
        d_grads = tape.gradient(d_loss, d_vars)
        scalars = [d_loss, t_balance * scale, tf.cast(flows_finite, tf.float32) * scale]
        reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, scalars + d_grads)
        return {"scalars": reduced[:len(scalars)], "d": reduced[len(scalars):],
                "bn": [[list(real), list(fake)] for real, fake in bn_stats]}

    def _replica_evaluate(self, r_inputs, r_targets, dt, images):
        ctx = tf.distribute.get_replica_context()
        scale = 1.0 / ctx.num_replicas_in_sync
        values, totals, extras = self.model.forward(r_inputs, r_targets, dt,
                                                    keep_tensors=images)
        scalars = [values[n] * scale for n in self.names]
        out = {"scalars": ctx.all_reduce(tf.distribute.ReduceOp.SUM, scalars)}
        if images:
            count = min(4, self.config.batch_size)
            out["images"] = {
                "LR": extras["r_inputs"][:count],
                "HR": (extras["r_targets"][:count] + 1.0) / 2.0,
                "Generated": (extras["gen_outputs"][:count] + 1.0) / 2.0,
                "WarpPreGen": (extras["gen_warppre"][:count] + 1.0) / 2.0,
            }
        return out

    # -- cross-replica side ---------------------------------------------------------------------
    def _first(self, value):
        return self.strategy.experimental_local_results(value)[0]

    def _train(self, r_inputs, r_targets):
        cfg, state = self.config, self.state
        global_step = tf.identity(state.global_step)
        lr = learning_rate(cfg, global_step)
        dt = L.dt_ratio(global_step, cfg.Dt_ratio_0, cfg.Dt_ratio_add, cfg.Dt_ratio_max)
        # --vgg_shift: the perceptual loss's crop phase for this step (teco_model.vgg_phase)
        shift = (vgg_phase(global_step),) if cfg.vgg_shift and cfg.use_vgg else ()
        out = self.strategy.run(self._replica_train, args=(r_inputs, r_targets, lr, dt) + shift)
        scalars = out["scalars"]
        local = [self._first(s) for s in scalars]
        n = len(self.names)
        flows_ok = local[n] > 1.0 - 0.5 / self.strategy.num_replicas_in_sync
        finite = tf.logical_and(
            flows_ok, tf.reduce_all(tf.stack([tf.math.is_finite(s) for s in local])))
        with_d = tf.constant(False)
        if cfg.gan:
            # One decision per step, from the mirrored EMA before this step's update.
            with_d = tf.logical_and(finite, state.t_balance_ema.read_value() < cfg.Dbalance)

        def d_branch():
            state.opt_discriminator.apply(out["d"], lr)
            _assign_fn(state.with_d_counter, lambda c: c + 1)
            return tf.constant(True)

        def no_d_branch():
            _assign_fn(state.without_d_counter, lambda c: c + 1)
            return tf.constant(False)

        def update():
            if cfg.gan:
                tf.cond(with_d, d_branch, no_d_branch)
                t_balance = scalars[-1]
                per_device(lambda v, x: v.assign(ema_update(v, x)), state.t_balance_ema,
                           t_balance)
                self._update_batch_norm_statistics(out["bn"])
            state.opt_generator.apply(out["g"], lr)
            state.opt_fnet.apply(out["f"], lr)
            if self.weight_average is not None:
                self.weight_average.update()
            doubled = shared_ema_names(cfg)
            for name, value in zip(self.names, scalars):
                updates = 2 if name in doubled else 1
                per_device(lambda v, x, n=updates: v.assign(ema_update(v, x, n)),
                           state.loss_ema[name], value)
            _assign_fn(state.global_step, lambda s: s + 1)
            return tf.constant(True)

        tf.cond(finite, update, lambda: tf.constant(False))
        result = {name: value for name, value in zip(self.names, local)}
        if cfg.gan:
            result["t_balance_raw"] = local[-1]
        result.update(flows_finite=flows_ok, finite=finite, with_d=with_d, learning_rate=lr,
                      dt_ratio=dt, global_step=tf.identity(state.global_step))
        return result

    def _train_discriminator(self, r_inputs, r_targets):
        """One discriminator-only update (``--D_extra_updates``; ours): the D Adam step of
        :meth:`_train` on this batch at the current weights, under the same ``--Dbalance`` rule,
        and the D BatchNorm moving statistics. The generator, FNet, ``global_step``, the
        counters, the ``t_balance`` average and the logged averages stay as they are, so a run's
        step count and logs mean what they mean without the option.

        Costs the unroll's forward pass and D's forward and backward passes: no perceptual
        network and no generator gradients (reference 5.3's graph has none of this).
        """
        cfg, state = self.config, self.state
        lr = learning_rate(cfg, tf.identity(state.global_step))
        out = self.strategy.run(self._replica_train_discriminator, args=(r_inputs, r_targets))
        local = [self._first(s) for s in out["scalars"]]
        d_loss, t_balance, flows = local
        flows_ok = flows > 1.0 - 0.5 / self.strategy.num_replicas_in_sync
        finite = tf.logical_and(flows_ok, tf.logical_and(tf.math.is_finite(d_loss),
                                                         tf.math.is_finite(t_balance)))
        with_d = tf.logical_and(finite, state.t_balance_ema.read_value() < cfg.Dbalance)

        def update():
            state.opt_discriminator.apply(out["d"], lr)
            self._update_batch_norm_statistics(out["bn"])
            return tf.constant(True)

        tf.cond(with_d, update, lambda: tf.constant(False))
        return {"t_discrim_loss": d_loss, "t_balance_raw": t_balance, "finite": finite,
                "with_d": with_d}

    def _update_batch_norm_statistics(self, bn_stats):
        for bn, ((real_mean, real_var), (fake_mean, fake_var)) in zip(
                self.model.discriminator.batch_norms(), bn_stats):
            # The real pass's update op, then the fake pass's (matches the fixture).
            per_device(lambda v, a, b: v.assign(_moving(v, [a, b])), bn.moving_mean,
                       real_mean, fake_mean)
            per_device(lambda v, a, b: v.assign(_moving(v, [a, b])), bn.moving_variance,
                       real_var, fake_var)

    def _eval(self, r_inputs, r_targets, images):
        cfg = self.config
        dt = L.dt_ratio(tf.identity(self.state.global_step), cfg.Dt_ratio_0, cfg.Dt_ratio_add,
                        cfg.Dt_ratio_max)
        out = self.strategy.run(self._replica_evaluate, args=(r_inputs, r_targets, dt, images))
        result = {name: self._first(v) for name, v in zip(self.names, out["scalars"])}
        if images:
            result["images"] = {k: self._first(v) for k, v in out["images"].items()}
        return result

    def _evaluate(self, r_inputs, r_targets):
        return self._eval(r_inputs, r_targets, False)

    def _evaluate_images(self, r_inputs, r_targets):
        return self._eval(r_inputs, r_targets, True)


def _moving(value, batch_stats):
    """BatchNorm moving average after the real and then the fake pass's update (decay 0.9)."""
    decay = tf.constant(0.9, tf.float32)
    for stat in batch_stats:
        value = value - (value - stat) * (1.0 - decay)
    return value


def build(config, strategy=None, seed=0):
    """Model, state and step under ``strategy`` (default: the current/default strategy); the
    step's ``weight_average`` is the :class:`WeightAverage` (None without ``--ema_decay``)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = TecoModel(config, seed=seed)
        state = TrainState(model)
        average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    return model, state, TecoTrainStep(model, state, strategy, average)
