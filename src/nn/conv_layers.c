/* nn/conv_layers.c — torch.nn.Conv2d, MaxPool2d and AvgPool2d as layers over
 * the ops of ops/conv2d.c and ops/pool2d.c.
 * Conv2d initialisation as torch/nn/modules/conv.py reset_parameters():
 * kaiming_uniform_(weight, a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * with fan_in = in_channels kh kw, then bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
#include "nn/layer.h"
#include "ops/conv2d.h"

typedef struct conv_state {
    nb_tensor *weight, *bias;
    nb_conv2d_opts opts;
} conv_state;

static nb_tensor *conv_forward(nb_module *m, nb_tensor *x)
{
    conv_state *s = m->user;
    return nb_conv2d(x, s->weight, s->bias, s->opts);
}

bool nb_is_conv2d_layer(const nb_module *m) { return m && m->forward == conv_forward; }

/* torch.nn.Conv2d's: "3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)" */
static void conv_repr(const nb_module *m, char *buf, size_t size)
{
    const conv_state *s = m->user;
    const int64_t *w = s->weight->shape, *st = s->opts.stride, *p = s->opts.padding, *d = s->opts.dilation;
    int k = snprintf(buf, size, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld)", (long long)w[1],
                     (long long)w[0], (long long)w[2], (long long)w[3], (long long)st[0], (long long)st[1]);
    if ((p[0] || p[1]) && k > 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, ", padding=(%lld, %lld)", (long long)p[0], (long long)p[1]);
    if ((d[0] != 1 || d[1] != 1) && k > 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, ", dilation=(%lld, %lld)", (long long)d[0], (long long)d[1]);
    if (!s->bias && k > 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, ", bias=False");
}

nb_module *nb_conv2d_layer_ex(int64_t in, int64_t out, int kh, int kw, nb_conv2d_opts opts, bool bias,
                              nb_generator *g)
{
    if (in < 1 || out < 1 || kh < 1 || kw < 1)
        return nb_error(NB_ERR_ARG,
                        "Conv2d: in_channels %lld, out_channels %lld and kernel (%d,%d) must be >= 1",
                        (long long)in, (long long)out, kh, kw);
    if (!nb_conv2d_resolve_opts(opts, NULL, NULL, NULL)) /* the op's rule, checked now */
        return NULL;
    nb_module *m = nb_layer_new("Conv2d", conv_forward, sizeof(conv_state));
    if (!m)
        return NULL;
    conv_state *s = m->user;
    s->opts = opts;
    m->extra_repr = conv_repr;
    if (!nb_layer_weight_bias(m, 4, (const int64_t[]){out, in, kh, kw}, bias, g, &s->weight, &s->bias)) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_conv2d_layer(int64_t in, int64_t out, int kernel, int stride, int padding)
{
    return nb_conv2d_layer_ex(in, out, kernel, kernel,
                              NB_CONV2D_OPTS(.stride = {stride, stride}, .padding = {padding, padding}), true,
                              NULL);
}

typedef struct pool_state {
    int kernel, stride, padding;
} pool_state;

static nb_tensor *max_pool_forward(nb_module *m, nb_tensor *x)
{
    pool_state *s = m->user;
    return nb_max_pool2d(x, s->kernel, s->stride, s->padding);
}

bool nb_is_max_pool2d_layer(const nb_module *m) { return m && m->forward == max_pool_forward; }

nb_tensor *nb_conv2d_layer_fused_forward(nb_module *m, nb_tensor *x, const nb_module *pool)
{
    conv_state *s = m->user;
    if (!pool)
        return nb_conv2d_relu(x, s->weight, s->bias, s->opts);
    const pool_state *p = pool->user;
    return nb_conv2d_relu_max_pool2d(x, s->weight, s->bias, s->opts, p->kernel, p->stride, p->padding);
}

static nb_tensor *avg_pool_forward(nb_module *m, nb_tensor *x)
{
    pool_state *s = m->user;
    return nb_avg_pool2d(x, s->kernel, s->stride, s->padding);
}

static void pool_repr(const nb_module *m, char *buf, size_t size)
{
    const pool_state *s = m->user;
    snprintf(buf, size, "kernel_size=%d, stride=%d, padding=%d", s->kernel, s->stride, s->padding);
}

static nb_module *pool_layer(const char *kind, nb_forward_fn fwd, int kernel, int stride, int padding)
{
    if (kernel < 1 || stride < 0 || padding < 0 || padding > kernel / 2)
        return nb_error(NB_ERR_ARG,
                        "%s: kernel %d must be positive, stride %d non-negative and padding %d in "
                        "[0, kernel / 2]",
                        kind, kernel, stride, padding);
    nb_module *m = nb_layer_new(kind, fwd, sizeof(pool_state));
    if (m) {
        *(pool_state *)m->user = (pool_state){kernel, stride ? stride : kernel, padding};
        m->extra_repr = pool_repr;
    }
    return m;
}

nb_module *nb_max_pool2d_layer_ex(int kernel, int stride, int padding)
{
    return pool_layer("MaxPool2d", max_pool_forward, kernel, stride, padding);
}

nb_module *nb_avg_pool2d_layer_ex(int kernel, int stride, int padding)
{
    return pool_layer("AvgPool2d", avg_pool_forward, kernel, stride, padding);
}

nb_module *nb_max_pool2d_layer(int kernel, int stride) { return nb_max_pool2d_layer_ex(kernel, stride, 0); }

nb_module *nb_avg_pool2d_layer(int kernel, int stride) { return nb_avg_pool2d_layer_ex(kernel, stride, 0); }
