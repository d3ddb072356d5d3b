/* tests/test_options.c — the options rule of every public options struct: the
 * macro and nb_<x>_defaults() agree field for field and hold PyTorch's
 * defaults, a field written as 0 is 0, and a struct not made by either (a
 * literal whose omitted fields are zeros) is refused with a message naming
 * the macro. The optimizers' options are tested in test_optim.c. */
#include <math.h>
#include "common.h"

TestSuite(options, .init = quiet, .fini = end_step);

static bool eq(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

Test(options, macro_and_function_agree)
{
    nb_optim_opts o[5][2] = {{NB_SGD_OPTS(), nb_sgd_defaults()},
                             {NB_ADAM_OPTS(), nb_adam_defaults()},
                             {NB_ADAMW_OPTS(), nb_adamw_defaults()},
                             {NB_RMSPROP_OPTS(), nb_rmsprop_defaults()},
                             {NB_ADAGRAD_OPTS(), nb_adagrad_defaults()}};
    for (int k = 0; k < 5; k++) {
        const nb_optim_opts *a = &o[k][0], *b = &o[k][1];
        cr_assert(a->nb_tag == b->nb_tag && a->kind == b->kind && eq(a->lr, b->lr) &&
                      eq(a->weight_decay, b->weight_decay) && eq(a->betas[0], b->betas[0]) &&
                      eq(a->betas[1], b->betas[1]) && eq(a->eps, b->eps) && eq(a->alpha, b->alpha) &&
                      eq(a->momentum, b->momentum),
                  "optimizer %d", k);
    }
    nb_cross_entropy_opts ce[2] = {NB_CROSS_ENTROPY_OPTS(), nb_cross_entropy_defaults()};
    cr_assert(ce[0].nb_tag == ce[1].nb_tag && ce[0].ignore_index == ce[1].ignore_index &&
              ce[0].reduction == ce[1].reduction && eq(ce[0].label_smoothing, ce[1].label_smoothing));
    nb_nll_loss_opts nl[2] = {NB_NLL_LOSS_OPTS(), nb_nll_loss_defaults()};
    cr_assert(nl[0].nb_tag == nl[1].nb_tag && nl[0].ignore_index == nl[1].ignore_index);
    nb_conv2d_opts cv[2] = {NB_CONV2D_OPTS(), nb_conv2d_defaults()};
    cr_assert(cv[0].nb_tag == cv[1].nb_tag && cv[0].stride[1] == cv[1].stride[1] &&
              cv[0].dilation[0] == cv[1].dilation[0] && cv[0].padding[0] == cv[1].padding[0]);
    nb_embedding_opts em[2] = {NB_EMBEDDING_OPTS(), nb_embedding_defaults()};
    cr_assert(em[0].nb_tag == em[1].nb_tag && em[0].padding_idx == em[1].padding_idx &&
              eq(em[0].max_norm, em[1].max_norm) && eq(em[0].norm_type, em[1].norm_type));
    nb_rnn_opts ra = NB_RNN_OPTS(), rb = nb_rnn_defaults();
    cr_assert(ra.nb_tag == rb.nb_tag && ra.num_layers == rb.num_layers && ra.bias == rb.bias &&
              strcmp(ra.nonlinearity, rb.nonlinearity) == 0 && ra.dropout == rb.dropout);
    nb_loader_opts lo[2] = {NB_LOADER_OPTS(), nb_loader_defaults()};
    cr_assert(lo[0].nb_tag == lo[1].nb_tag && lo[0].shuffle == lo[1].shuffle && lo[0].seed == lo[1].seed);
    cr_assert_eq(NB_MNIST_OPTS().nb_tag, nb_mnist_defaults().nb_tag);
    nb_csv_opts cs[2] = {NB_CSV_OPTS(), nb_csv_defaults()};
    cr_assert(cs[0].nb_tag == cs[1].nb_tag && cs[0].delimiter == cs[1].delimiter);
    nb_gradcheck_opts gc[2] = {NB_GRADCHECK_OPTS(), nb_gradcheck_defaults()};
    cr_assert(gc[0].nb_tag == gc[1].nb_tag && gc[0].eps == gc[1].eps && gc[0].atol == gc[1].atol &&
              gc[0].rtol == gc[1].rtol);
    nb_plot_opts pl[2] = {NB_PLOT_OPTS(), nb_plot_defaults()};
    cr_assert(pl[0].nb_tag == pl[1].nb_tag && pl[0].width == pl[1].width && pl[0].height == pl[1].height);
    nb_series_opts se[2] = {NB_SERIES_OPTS(), nb_series_defaults()};
    cr_assert(se[0].nb_tag == se[1].nb_tag && se[0].width == se[1].width && se[0].radius == se[1].radius);
    nb_mha_opts mh[2] = {NB_MHA_OPTS(), nb_mha_defaults()};
    cr_assert(mh[0].nb_tag == mh[1].nb_tag && mh[0].bias == mh[1].bias && mh[0].bias && mh[0].kdim == 0);
    nb_transformer_opts tr[2] = {NB_TRANSFORMER_OPTS(), nb_transformer_defaults()};
    cr_assert(tr[0].nb_tag == tr[1].nb_tag && tr[0].dim_feedforward == 2048 &&
              tr[1].dim_feedforward == 2048 && tr[0].dropout == 0.1 && tr[1].dropout == 0.1 && tr[0].bias &&
              tr[1].bias && tr[0].layer_norm_eps == tr[1].layer_norm_eps &&
              strcmp(tr[0].activation, tr[1].activation) == 0);
    nb_sdpa_opts sd[2] = {NB_SDPA_OPTS(), nb_sdpa_defaults()};
    cr_assert(sd[0].nb_tag == sd[1].nb_tag && eq(sd[0].scale, sd[1].scale) &&
              sd[0].dropout_p == sd[1].dropout_p);
}

Test(options, pytorch_defaults_and_literal_zeros)
{
    /* F.cross_entropy(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0) */
    nb_cross_entropy_opts ce = NB_CROSS_ENTROPY_OPTS();
    cr_assert(ce.ignore_index == -100 && ce.reduction == NB_MEAN && ce.label_smoothing == 0);
    cr_assert_eq(NB_CROSS_ENTROPY_OPTS(.ignore_index = 0).ignore_index, 0);
    cr_assert_eq(NB_NLL_LOSS_OPTS().ignore_index, -100);
    /* F.conv2d(stride=1, padding=0, dilation=1) */
    nb_conv2d_opts cv = NB_CONV2D_OPTS(.padding = {1, 1});
    cr_assert(cv.stride[0] == 1 && cv.stride[1] == 1 && cv.dilation[0] == 1 && cv.dilation[1] == 1 &&
              cv.padding[0] == 1 && cv.padding[1] == 1);
    /* nn.LSTM(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False) */
    nb_rnn_opts r = NB_RNN_OPTS(.batch_first = true);
    cr_assert(r.num_layers == 1 && r.bias && r.batch_first && r.dropout == 0 && !r.bidirectional);
    cr_assert(!NB_RNN_OPTS(.bias = false).bias);
    /* nn.Embedding(padding_idx=None, max_norm=None, norm_type=2.0) */
    nb_embedding_opts e = NB_EMBEDDING_OPTS(.padding_idx = 0);
    cr_assert(e.padding_idx == 0 && isnan(e.max_norm) && e.norm_type == 2);
    /* torch.autograd.gradcheck(eps=1e-6, atol=1e-5, rtol=1e-3); atol 0 is legal */
    nb_gradcheck_opts g = NB_GRADCHECK_OPTS(.atol = 0);
    cr_assert(g.eps == 1e-6 && g.atol == 0 && g.rtol == 1e-3);
    /* DataLoader(shuffle=False, drop_last=False); CSV: ',' */
    cr_assert(!NB_LOADER_OPTS().shuffle && !NB_LOADER_OPTS().drop_last);
    cr_assert_eq(NB_CSV_OPTS().delimiter, ',');
    /* F.scaled_dot_product_attention(attn_mask=None, dropout_p=0.0, is_causal=False, scale=None) */
    nb_sdpa_opts sd = NB_SDPA_OPTS(.scale = 0);
    cr_assert(sd.scale == 0 && !sd.attn_mask && sd.dropout_p == 0 && !sd.is_causal &&
              isnan(NB_SDPA_OPTS().scale));
    nb_series_opts so = NB_SERIES_OPTS(.width = 1);
    cr_assert(so.width == 1 && so.radius == 3);
}

Test(options, struct_literals_are_refused)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 3)), *y = nb_zeros(NB_SHAPE(2));
    cr_assert_null(nb_cross_entropy(x, y, (nb_cross_entropy_opts){.label_smoothing = 0.1}));
    assert_error(NB_ERR_ARG, "cross_entropy: options were not made by NB_CROSS_ENTROPY_OPTS() or "
                             "nb_cross_entropy_defaults(): a struct literal leaves the fields it omits at "
                             "zero, not at PyTorch's defaults");
    nb_clear_error();
    cr_assert_null(nb_nll_loss(x, y, (nb_nll_loss_opts){0}));
    assert_error(NB_ERR_ARG, "nll_loss: options were not made by NB_NLL_LOSS_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_multihead_attention(4, 2, (nb_mha_opts){.batch_first = true}));
    assert_error(NB_ERR_ARG, "MultiheadAttention: options were not made by NB_MHA_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_lstm(3, 4, (nb_rnn_opts){.batch_first = true}));
    assert_error(NB_ERR_ARG, "LSTM: options were not made by NB_RNN_OPTS() or nb_rnn_defaults()");
    nb_clear_error();
    nb_dataset *ds = nb_dataset_new(x, y, false);
    cr_assert_null(nb_loader_new(ds, 2, (nb_loader_opts){.shuffle = true}));
    assert_error(NB_ERR_ARG, "loader: options were not made by NB_LOADER_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_embedding_ex(4, 2, (nb_embedding_opts){.norm_type = 2}, NULL));
    assert_error(NB_ERR_ARG, "Embedding: options were not made by NB_EMBEDDING_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_plot_new((nb_plot_opts){.width = 640, .height = 420}));
    assert_error(NB_ERR_ARG, "plot_new: options were not made by NB_PLOT_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_load_csv("/nonexistent.csv", (nb_csv_opts){.delimiter = ','}, NULL));
    assert_error(NB_ERR_ARG, "csv: options were not made by NB_CSV_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_mnist_load("/nonexistent", true, (nb_mnist_opts){0}));
    assert_error(NB_ERR_ARG, "mnist: options were not made by NB_MNIST_OPTS()");
    nb_dataset_free(ds);
    nb_free(x), nb_free(y);
}
